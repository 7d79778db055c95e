"""Logging: records with exc_info at ERROR and above become events; INFO and above, breadcrumbs.

The hook wraps `Logger.callHandlers`, so it keeps working when the app (Django's LOGGING,
uvicorn's dictConfig) replaces the root logger's handlers or stops propagation.
`LoggingHandler` is for apps that prefer to wire a handler themselves; it also reports ERROR
records without an exception, as messages.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tracebin import _hub
from tracebin._guard import report_internal_error
from tracebin._scope import current_scope

if TYPE_CHECKING:
    from tracebin._client import Client

BREADCRUMB_LEVEL = logging.INFO
EVENT_LEVEL = logging.ERROR
MAX_MESSAGE = 1024

_original: Any = None


def level_name(levelno: int) -> str:
    if levelno >= logging.CRITICAL:
        return "fatal"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


def _own(record: logging.LogRecord) -> bool:
    return record.name == "tracebin" or record.name.startswith("tracebin.")


def _message(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:  # the app's bad format string: keep the raw template
        text = str(record.msg)
    return text[:MAX_MESSAGE]


def _exception(record: logging.LogRecord) -> BaseException | None:
    info = record.exc_info
    return info[1] if isinstance(info, tuple) and isinstance(info[1], BaseException) else None


def _capture(client: Client, record: logging.LogRecord, exc: BaseException) -> None:
    client.capture_exception(
        exc,
        level=level_name(record.levelno),
        mechanism={"type": "logging", "handled": True},
        logger_name=record.name,
        message=_message(record),
    )


def observe(record: logging.LogRecord) -> None:
    if record.levelno < BREADCRUMB_LEVEL or _own(record):
        return
    client = _hub.get()
    if client is None:
        return
    exc = _exception(record) if record.levelno >= EVENT_LEVEL else None
    if exc is not None:
        _capture(client, record, exc)
        return
    current_scope().add_breadcrumb(_message(record), category=record.name, level=level_name(record.levelno), type="log")


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    try:
        observe(record)
    except Exception as error:
        report_internal_error("observing a log record failed", error)
    _original(self, record)


def install() -> None:
    global _original
    if logging.Logger.callHandlers is not _call_handlers:
        _original = logging.Logger.callHandlers
        logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]


def uninstall() -> None:
    global _original
    if logging.Logger.callHandlers is _call_handlers and _original is not None:
        logging.Logger.callHandlers = _original  # type: ignore[method-assign]
        _original = None


class LoggingHandler(logging.Handler):
    """A handler that reports records at its level or above (default ERROR) as events."""

    def __init__(self, level: int = logging.ERROR) -> None:
        super().__init__(level)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            client = _hub.get()
            if client is None or _own(record):
                return
            exc = _exception(record)
            if exc is not None:
                _capture(client, record, exc)
            else:
                client.capture_message(_message(record), level=level_name(record.levelno), logger_name=record.name)
        except Exception as error:
            report_internal_error("LoggingHandler failed", error)
