"""The public functions. Each is guarded: no exception of the library ever reaches the app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tracebin import _hub
from tracebin._client import Client
from tracebin._config import Config, build_config
from tracebin._guard import guarded
from tracebin._integrations import excepthooks, lifecycle, logs
from tracebin._scope import Scope, current_scope, new_scope, reset_root


def init(url: str | None = None, **options: Any) -> None:
    """Start reporting to `url` (default: the TRACEBIN_URL environment variable).

    Unknown options raise TypeError and bad values ValueError, here and nowhere else. Without a
    URL every call is a no-op; a malformed URL logs one warning and leaves the client disabled.
    """
    if url is not None:
        options["url"] = url
    config = build_config(options)
    _start(config)


@guarded()
def _start(config: Config) -> None:
    previous = _hub.client
    if previous is not None:
        _hub.client = None
        previous.close(timeout=min(2.0, previous.config.shutdown_timeout))
    if current_scope().breadcrumbs.maxlen != config.max_breadcrumbs:
        reset_root(config.max_breadcrumbs)
    client = Client(config)
    _hub.client = client
    if not client.enabled:
        return
    if config.default_integrations:
        excepthooks.install()
        logs.install()
    if config.handle_sigterm:
        lifecycle.install_sigterm()
    lifecycle.register_process_hooks()


@guarded()
def close(timeout: float | None = None) -> None:
    """Deliver what is pending (or keep it on disk), then stop reporting and remove the hooks."""
    client, _hub.client = _hub.client, None
    excepthooks.uninstall()
    logs.uninstall()
    if client is not None:
        client.close(client.config.shutdown_timeout if timeout is None else timeout)


@guarded(default=False)
def flush(timeout: float | None = None) -> bool:
    """Wait up to `timeout` seconds for pending events; True when all were delivered.

    Whatever is not delivered by then is kept in the on-disk spool for a later attempt.
    """
    client = _hub.get()
    if client is None:
        return True
    return client.flush(client.config.shutdown_timeout if timeout is None else timeout)


@guarded()
def capture_exception(exc: BaseException | None = None, *, level: str = "error") -> str | None:
    """Report `exc` (default: the exception being handled); returns the event id, or None."""
    client = _hub.get()
    if client is None:
        return None
    return client.capture_exception(exc, level=level)


@guarded()
def capture_message(message: str, *, level: str = "info") -> str | None:
    client = _hub.get()
    if client is None:
        return None
    return client.capture_message(message, level=level)


@guarded()
def set_user(user: dict[str, Any] | None) -> None:
    """`{"id", "email", "username", "ip_address"}` for events of the current scope."""
    current_scope().set_user(user)


@guarded()
def set_tag(key: str, value: Any) -> None:
    current_scope().set_tag(key, value)


@guarded()
def set_context(name: str, data: dict[str, Any] | None) -> None:
    current_scope().set_context(name, data)


@guarded()
def set_extra(key: str, value: Any) -> None:
    current_scope().set_extra(key, value)


@guarded()
def add_breadcrumb(
    message: str, *, category: str = "default", level: str = "info", data: dict[str, Any] | None = None
) -> None:
    current_scope().add_breadcrumb(message, category=category, level=level, data=data)


@contextmanager
def scope() -> Iterator[Scope]:
    """A scope for one request or job: what is set inside stays inside (threads and tasks safe)."""
    with new_scope() as inner:
        yield inner


_default_builder: Client | None = None


def event_from_exception(exc: BaseException, **options: Any) -> dict[str, Any]:
    """The native event for `exc`, as it would be sent (scrubbed), without sending it.

    `options` are init()'s; without them the current client's configuration is used.
    """
    global _default_builder
    if options:
        options.setdefault("url", "")
        builder = Client(build_config(options))
    else:
        builder = _hub.client or _default_builder or Client(build_config({"url": ""}))
        if _hub.client is None:
            _default_builder = builder
    event = builder.event_from_exception(exc, mechanism={"type": "generic", "handled": True})
    return builder.scrubber.event(event) if builder.config.scrub else event
