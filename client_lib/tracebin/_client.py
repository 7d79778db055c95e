"""The client: turns exceptions and messages into events and hands them to the delivery worker.

Everything on the calling thread is kept small: reading the traceback and locals (they change as
soon as the app moves on) and copying the scope. before_send, scrubbing, JSON and gzip run on
the worker thread (or, when the memory queue is full, on the caller as it spills to disk).
"""

from __future__ import annotations

import random
import ssl
import sys
from typing import Any

from tracebin import _drops
from tracebin._config import Config
from tracebin._delivery import Worker
from tracebin._drops import DropCounter
from tracebin._events import RUNTIME_CONTEXTS, exception_values, message_text, new_event
from tracebin._guard import logger, report_internal_error
from tracebin._payload import encode
from tracebin._scope import Scope, current_scope
from tracebin._scrub import Scrubber
from tracebin._spool import Spool
from tracebin._transport import HttpTransport

LEVELS = ("fatal", "error", "warning", "info", "debug")
_CAPTURED = "__tracebin_captured__"


def _already_captured(exc: BaseException) -> bool:
    """Middleware and the logging hook may both see one exception: report it once."""
    if getattr(exc, _CAPTURED, False):
        return True
    try:
        setattr(exc, _CAPTURED, True)
    except Exception:  # noqa: S110 - exceptions without __dict__ are simply not deduplicated
        pass
    return False


class Client:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.scrubber = Scrubber(config.scrub_keys)
        self.drops = DropCounter()
        endpoint = config.endpoint
        # One TLS context for the client's connections (building one costs milliseconds).
        tls = ssl.create_default_context() if endpoint is not None and endpoint.scheme == "https" else None
        connect = (lambda: HttpTransport(endpoint, config.timeout, tls)) if endpoint is not None else None
        self.spool = Spool(config.spool_dir, config.spool_max_bytes)
        self.worker = Worker(connect, self.spool, self.drops, self.prepare, config.queue_size)

    @property
    def enabled(self) -> bool:
        return self.config.endpoint is not None

    # -- building (calling thread) -------------------------------------------------------------

    def event_from_exception(
        self,
        exc: BaseException,
        *,
        level: str = "error",
        mechanism: dict[str, Any] | None = None,
        scope: Scope | None = None,
    ) -> dict[str, Any]:
        event = new_event(level)
        event["exception"] = exception_values(
            exc,
            mechanism=mechanism or {"type": "generic", "handled": True},
            include_locals=self.config.include_locals,
            in_app_include=self.config.in_app_include,
            in_app_exclude=self.config.in_app_exclude,
        )
        self._decorate(event, scope)
        return event

    def event_from_message(self, message: Any, *, level: str = "info", scope: Scope | None = None) -> dict[str, Any]:
        event = new_event(level)
        event["message"] = message_text(message)
        self._decorate(event, scope)
        return event

    def _decorate(self, event: dict[str, Any], scope: Scope | None) -> None:
        config = self.config
        event["environment"] = config.environment
        event["server_name"] = config.server_name
        if config.release:
            event["release"] = config.release
        (scope or current_scope()).apply(event, config.tags)
        event["contexts"] = {**RUNTIME_CONTEXTS, **event.get("contexts", {})}

    def _wanted(self, exc: BaseException | None) -> bool:
        if exc is not None and self.config.ignore_exceptions and isinstance(exc, self.config.ignore_exceptions):
            self.drops.add(_drops.IGNORED)
            return False
        if self.config.sample_rate < 1.0 and random.random() >= self.config.sample_rate:
            self.drops.add(_drops.SAMPLED)
            return False
        return True

    def capture_exception(
        self,
        exc: BaseException | None = None,
        *,
        level: str = "error",
        mechanism: dict[str, Any] | None = None,
        scope: Scope | None = None,
        extra: dict[str, Any] | None = None,
        logger_name: str | None = None,
        message: str | None = None,
    ) -> str | None:
        if not self.enabled:
            return None
        if exc is None:
            exc = sys.exc_info()[1]
            if exc is None:
                return None
        if _already_captured(exc) or not self._wanted(exc):
            return None
        try:
            event = self.event_from_exception(exc, level=level, mechanism=mechanism, scope=scope)
        except Exception as error:
            self.drops.add(_drops.INTERNAL_ERROR)
            report_internal_error("building an event failed", error)
            return None
        if extra:
            event["extra"] = {**event.get("extra", {}), **extra}
        if logger_name:
            event["logger"] = logger_name
        if message:
            event["message"] = message_text(message)
        self.worker.submit(event)
        return str(event["event_id"])

    def capture_message(
        self, message: Any, *, level: str = "info", scope: Scope | None = None, logger_name: str | None = None
    ) -> str | None:
        if not self.enabled or not self._wanted(None):
            return None
        event = self.event_from_message(message, level=level if level in LEVELS else "info", scope=scope)
        if logger_name:
            event["logger"] = logger_name
        self.worker.submit(event)
        return str(event["event_id"])

    # -- preparing (worker thread) -------------------------------------------------------------

    def finalize(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """before_send, then scrubbing; None when before_send dropped the event."""
        before_send = self.config.before_send
        if before_send is not None:
            try:
                changed = before_send(event)
            except Exception:
                # The app's callback failed: its bug, not ours. Send the event as it was.
                logger.exception("tracebin: before_send raised; the event is sent unchanged")
                changed = event
            if changed is None:
                self.drops.add(_drops.BEFORE_SEND)
                return None
            if not isinstance(changed, dict):
                logger.warning("tracebin: before_send returned %s, not an event; it is sent unchanged", type(changed))
                changed = event
            event = changed
        if self.config.scrub:
            event = self.scrubber.event(event)
        return event

    def prepare(self, event: dict[str, Any]) -> bytes | None:
        """The body to send; None when the event is not to be sent (counted by reason)."""
        try:
            final = self.finalize(event)
            return None if final is None else encode(final)
        except Exception as error:
            self.drops.add(_drops.INTERNAL_ERROR)
            report_internal_error("preparing an event failed", error)
            return None

    # -- lifecycle -----------------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        if not self.enabled:
            return True
        return self.worker.flush(timeout)

    def close(self, timeout: float) -> None:
        if self.enabled:
            self.worker.stop(timeout)

    def after_fork(self) -> None:
        self.worker.after_fork()
