"""ASGI middleware (Starlette, FastAPI): a scope per request; errors are captured and re-raised."""

from __future__ import annotations

from collections.abc import Awaitable, MutableMapping
from typing import Any, Callable

from tracebin._integrations.wsgi import capture
from tracebin._scope import new_scope

AsgiScope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[AsgiScope, Receive, Send], Awaitable[None]]


def request_from_asgi(scope: AsgiScope) -> dict[str, Any]:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers") or ():
        key = name.decode("latin-1").title()
        headers[key] = f"{headers[key]}, {value.decode('latin-1')}" if key in headers else value.decode("latin-1")
    scheme = scope.get("scheme", "http")
    host = headers.get("Host")
    if not host:
        server = scope.get("server") or ("", None)
        host = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
    client = scope.get("client") or None
    query = scope.get("query_string", b"")
    return {
        "method": scope.get("method", "GET" if scope.get("type") == "http" else "WEBSOCKET"),
        "url": f"{scheme}://{host}{scope.get('root_path', '')}{scope.get('path', '')}",
        "query_string": query.decode("latin-1") if isinstance(query, bytes) else str(query),
        "headers": headers,
        "env": {"REMOTE_ADDR": str(client[0])} if client else {},
    }


class AsgiMiddleware:
    """`app.add_middleware(tracebin.AsgiMiddleware)` or `app = tracebin.AsgiMiddleware(app)`."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        with new_scope() as tracebin_scope:
            tracebin_scope.request_factory = lambda: request_from_asgi(scope)
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                capture(exc, tracebin_scope, "asgi")
                raise
