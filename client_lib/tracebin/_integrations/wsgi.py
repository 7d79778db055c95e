"""WSGI middleware (Flask, Django): a scope per request; errors are captured and re-raised."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Callable

from tracebin import _hub
from tracebin._guard import report_internal_error
from tracebin._scope import Scope, new_scope

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_ENV_KEYS = ("REMOTE_ADDR", "SERVER_NAME", "SERVER_PORT")


def request_from_environ(environ: Environ) -> dict[str, Any]:
    headers = {
        key[5:].replace("_", "-").title(): str(value) for key, value in environ.items() if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").title()] = str(environ[key])
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return {
        "method": environ.get("REQUEST_METHOD", ""),
        "url": f"{scheme}://{host}{path}",
        "query_string": environ.get("QUERY_STRING", ""),
        "headers": headers,
        "env": {key: str(environ[key]) for key in _ENV_KEYS if key in environ},
    }


def capture(exc: BaseException, scope: Scope, mechanism: str) -> None:
    try:
        client = _hub.get()
        if client is not None:
            client.capture_exception(exc, mechanism={"type": mechanism, "handled": False}, scope=scope)
    except Exception as error:
        report_internal_error(f"capturing in the {mechanism} middleware failed", error)


class WsgiMiddleware:
    """`app.wsgi_app = tracebin.WsgiMiddleware(app.wsgi_app)` (Flask) or wrap Django's application."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        with new_scope() as scope:
            scope.request_factory = lambda: request_from_environ(environ)
            try:
                result = self.app(environ, start_response)
            except Exception as exc:
                capture(exc, scope, "wsgi")
                raise
        return _Body(result, scope)


class _Body:
    """The response iterable: errors while streaming are captured too; close() is passed on."""

    def __init__(self, result: Iterable[bytes], scope: Scope) -> None:
        self._result = result
        self._scope = scope

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._result
        except Exception as exc:
            capture(exc, self._scope, "wsgi")
            raise

    def close(self) -> None:
        close = getattr(self._result, "close", None)
        if close is not None:
            close()
