"""Tracebin client: report exceptions from Python apps to Tracebin.

    import tracebin
    tracebin.init()  # reads TRACEBIN_URL

See client_lib/README.md for the options and integrations.
"""

from tracebin._api import (
    add_breadcrumb,
    capture_exception,
    capture_message,
    close,
    event_from_exception,
    flush,
    init,
    scope,
    set_context,
    set_extra,
    set_tag,
    set_user,
)
from tracebin._integrations.asgi import AsgiMiddleware
from tracebin._integrations.jobs import job
from tracebin._integrations.logs import LoggingHandler
from tracebin._integrations.wsgi import WsgiMiddleware
from tracebin._scope import Scope
from tracebin._version import VERSION as __version__

__all__ = [
    "AsgiMiddleware",
    "LoggingHandler",
    "Scope",
    "WsgiMiddleware",
    "__version__",
    "add_breadcrumb",
    "capture_exception",
    "capture_message",
    "close",
    "event_from_exception",
    "flush",
    "init",
    "job",
    "scope",
    "set_context",
    "set_extra",
    "set_tag",
    "set_user",
]
