"""Which requests are API calls, and the middleware and routing they skip.

API calls come from SDKs and servers, never from a browser: they carry no session cookie and get
no HTML. Sessions (cookie parsing and signing) and the page security headers cost about 10 µs per
request, a tenth of the ingest path's budget, so browser-only middleware is wrapped in
`BrowserOnly` and steps aside for these paths. Their JSON replies still say `nosniff`
(app.http.JSONResponse).

The consume paths (`API_PATHS`: fixed paths, POST only) go further: `ApiRoutes`, the first
middleware, hands them straight to their endpoint, past the rest of the middleware, the router, the
route and their two exception-handling wrappers. Those cost about 90,000 CPU instructions per request,
more than the SQLite work of an event (`python -m loadtests.instructions`). Errors get the app's own
handlers, as on every other path. Anything else still raised reaches Starlette's
ServerErrorMiddleware, which wraps `ApiRoutes`. POST /ping takes the same path as POST /exceptions,
so the benchmark compares like with like.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import TracebinError

Endpoint = Callable[[Request], Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]

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


class ApiRoutes:
    """The POST routes at API_PATHS, answered without the router; every other request passes on.

    `routes` are the router's own `Route`s for those paths (the router keeps them for what only it
    does, such as redirecting `/exceptions/`). `on_domain_error` and `on_http_error` are the app's
    handlers for TracebinError and HTTPException. A method other than POST gets the router's answer:
    405 with `Allow: POST`.
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        routes: Sequence[Route],
        on_domain_error: ErrorHandler,
        on_http_error: ErrorHandler,
    ) -> None:
        endpoints: dict[str, Endpoint] = {}
        for route in routes:
            if route.methods != {"POST"} or not callable(route.endpoint):
                raise ValueError(f"ApiRoutes serves POST endpoints only, not {route!r}")
            endpoints[route.path] = route.endpoint
        if set(endpoints) != API_PATHS:
            raise ValueError(f"ApiRoutes serves exactly {sorted(API_PATHS)}, not {sorted(endpoints)}")
        self.app = app
        self.endpoints = endpoints
        self.on_domain_error = on_domain_error
        self.on_http_error = on_http_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            if scope["method"] != "POST":
                raise HTTPException(405, headers={"Allow": "POST"})
            response = await endpoint(request)
        except TracebinError as exc:
            response = await self.on_domain_error(request, exc)
        except HTTPException as exc:
            response = await self.on_http_error(request, exc)
        await response(scope, receive, send)
