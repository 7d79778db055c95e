"""Which requests are API calls, and the middleware they skip.

API calls come from SDKs and servers, never from a browser: they carry no session cookie and get
no HTML. Sessions (cookie parsing and signing) and the page security headers cost about 10 µs per
request, a tenth of the ingest path's budget, so browser-only middleware is wrapped in
`BrowserOnly` and steps aside for these paths. Their JSON replies still say `nosniff`
(app.http.JSONResponse). POST /ping takes the same path as POST /exceptions, so the benchmark
compares like with like.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

API_PATHS = frozenset({"/exceptions", "/client-reports", "/ping"})
API_PREFIX = "/api/"  # the Sentry-compatible store and envelope endpoints


def is_api_path(path: str) -> bool:
    return path in API_PATHS or path.startswith(API_PREFIX)


class BrowserOnly:
    """Runs `middleware` (built with `options`) for every request except API calls."""

    def __init__(self, app: ASGIApp, /, middleware: type[Any], **options: Any) -> None:
        self.app = app
        self.wrapped: ASGIApp = middleware(app, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_api_path(scope["path"]):
            await self.app(scope, receive, send)
        else:
            await self.wrapped(scope, receive, send)
