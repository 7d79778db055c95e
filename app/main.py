"""The Starlette application, assembled from explicit route lists, middleware and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from app import gc_tuning
from app.api_scope import ApiRoutes, BrowserOnly, is_api_path
from app.context import build_context
from app.errors import TracebinError
from app.http import JSONResponse, error_body
from app.routes import admin, consume, customer_ops, health, heroku, sentry, sso
from app.routes import status as status_page
from app.settings import Settings, load_settings
from dashboard import routes as dashboard
from dashboard.security import SecurityHeadersMiddleware
from dashboard.templating import templates

log = logging.getLogger(__name__)

SESSION_COOKIE = "tracebin_session"
SESSION_MAX_AGE = 12 * 3600


def all_routes() -> list[BaseRoute]:
    # The router tries routes in order, and no two paths overlap: the ingest paths go first.
    return [
        *consume.routes,
        *sentry.routes,
        *health.routes,
        *heroku.routes,
        *sso.routes,
        *dashboard.routes,
        *admin.routes,
        *status_page.routes,
        *customer_ops.routes,
    ]


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return "text/html" in request.headers.get("accept", "") and not (path.startswith("/heroku/") or is_api_path(path))


async def on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TracebinError)
    return JSONResponse(error_body(exc.message, exc.field), status_code=exc.status_code, headers=exc.headers)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _wants_html(request):
        context = {"status": exc.status_code, "message": str(exc.detail)}
        return templates.TemplateResponse(request, "error.html", context, exc.status_code, exc.headers)
    return JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def on_server_error(request: Request, exc: Exception) -> Response:
    # The server logs the traceback; the client gets a plain answer with no internals.
    if _wants_html(request):
        return templates.TemplateResponse(request, "error.html", {"status": 500, "message": ""}, 500)
    return JSONResponse(error_body("internal server error"), status_code=500)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    ctx = build_context(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ctx.start()
        try:
            yield
        finally:
            await ctx.stop()

    middleware = [
        Middleware(ApiRoutes, routes=consume.api_routes, on_domain_error=on_domain_error, on_http_error=on_http_error),
        Middleware(BrowserOnly, middleware=SecurityHeadersMiddleware),
        Middleware(
            BrowserOnly,
            middleware=SessionMiddleware,
            secret_key=settings.session_secret,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE,
            same_site="lax",
            https_only=settings.secure_cookies,
        ),
    ]
    app = Starlette(
        routes=all_routes(),
        middleware=middleware,
        exception_handlers={
            TracebinError: on_domain_error,
            HTTPException: on_http_error,
            Exception: on_server_error,
        },
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    return app


def create_served_app() -> Starlette:
    """The app as `tracebin-server serve` runs it (uvicorn's factory, once per worker process)."""
    app = create_app()
    gc_tuning.tune_for_serving()
    return app
