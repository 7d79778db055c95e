"""The library never raises into its host: internal errors are logged to the `tracebin` logger.

Tests register a hook here and fail when any internal error was swallowed, so guarded bugs are
still found (see client_lib/tests/conftest.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

logger = logging.getLogger("tracebin")

F = TypeVar("F", bound=Callable[..., Any])

# Called with every internal error the library swallowed.
error_hooks: list[Callable[[BaseException], None]] = []


def report_internal_error(message: str, exc: BaseException) -> None:
    """Log an error of the library itself (never re-raised into the app)."""
    try:
        logger.error("tracebin: %s", message, exc_info=exc)
        for hook in list(error_hooks):
            hook(exc)
    except Exception:  # noqa: S110 - a broken log handler must not reach the app either
        pass


def guarded(default: Any = None) -> Callable[[F], F]:
    """Decorate a public function so that its failures are logged and `default` is returned."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                report_internal_error(f"{fn.__name__} failed", exc)
                return default

        return cast(F, wrapper)

    return decorate
