"""GET /health: is this process up and can it reach its database?"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app.context import get_context
from app.http import JSONResponse

log = logging.getLogger(__name__)


async def health(request: Request) -> Response:
    ctx = get_context(request)
    try:
        await ctx.db.ping()
    except Exception as exc:  # any driver error means "database unreachable"
        log.warning("health check: database unreachable: %s", exc)
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


routes: list[BaseRoute] = [Route("/health", health, methods=["GET", "HEAD"])]
