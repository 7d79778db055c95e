"""Per-request / per-job data (user, tags, contexts, breadcrumbs), carried in a context variable."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any


class Scope:
    """What is attached to every event captured while this scope is current."""

    def __init__(self, max_breadcrumbs: int = 100) -> None:
        self.user: dict[str, Any] = {}
        self.tags: dict[str, str] = {}
        self.contexts: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}
        # Built only when an event needs it (middleware sets it on every request).
        self.request_factory: Callable[[], dict[str, Any]] | None = None
        self.fingerprint: list[str] | None = None
        self.breadcrumbs: deque[dict[str, Any]] = deque(maxlen=max_breadcrumbs)

    def child(self) -> Scope:
        scope = Scope.__new__(Scope)
        scope.user = dict(self.user)
        scope.tags = dict(self.tags)
        scope.contexts = dict(self.contexts)
        scope.extra = dict(self.extra)
        scope.request_factory = self.request_factory
        scope.fingerprint = self.fingerprint
        scope.breadcrumbs = deque(self.breadcrumbs, maxlen=self.breadcrumbs.maxlen)
        return scope

    def set_user(self, user: dict[str, Any] | None) -> None:
        self.user = dict(user or {})

    def set_tag(self, key: str, value: Any) -> None:
        self.tags[str(key)] = str(value)

    def set_context(self, name: str, data: dict[str, Any] | None) -> None:
        if data is None:
            self.contexts.pop(name, None)
        else:
            self.contexts[name] = dict(data)

    def set_extra(self, key: str, value: Any) -> None:
        self.extra[str(key)] = value

    def set_fingerprint(self, fingerprint: list[str] | None) -> None:
        self.fingerprint = list(fingerprint) if fingerprint else None

    def add_breadcrumb(
        self,
        message: str,
        *,
        category: str = "default",
        level: str = "info",
        type: str = "default",  # the field name of the event format
        data: dict[str, Any] | None = None,
    ) -> None:
        self.breadcrumbs.append(
            {
                "timestamp": time.time(),
                "type": type,
                "category": category,
                "level": level,
                "message": message,
                "data": data or {},
            }
        )

    def apply(self, event: dict[str, Any], default_tags: dict[str, str]) -> None:
        """Copy this scope's data into `event` (the event's own values win)."""
        tags = {**default_tags, **self.tags, **event.get("tags", {})}
        if tags:
            event["tags"] = tags
        if self.user and "user" not in event:
            event["user"] = dict(self.user)
        if self.contexts:
            event["contexts"] = {**self.contexts, **event.get("contexts", {})}
        if self.extra:
            event["extra"] = {**self.extra, **event.get("extra", {})}
        if self.request_factory is not None and "request" not in event:
            event["request"] = self.request_factory()
        if self.fingerprint and "fingerprint" not in event:
            event["fingerprint"] = list(self.fingerprint)
        if self.breadcrumbs:
            event["breadcrumbs"] = list(self.breadcrumbs)


_root = Scope()
_current: ContextVar[Scope | None] = ContextVar("tracebin_scope", default=None)


def current_scope() -> Scope:
    return _current.get() or _root


def reset_root(max_breadcrumbs: int) -> None:
    """A fresh process-wide scope (init)."""
    global _root
    _root = Scope(max_breadcrumbs)


@contextmanager
def new_scope() -> Iterator[Scope]:
    """A child of the current scope for the duration of a request or job (threads and tasks safe)."""
    scope = current_scope().child()
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
