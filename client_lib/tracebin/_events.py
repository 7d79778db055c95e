"""Native events (contract 1 of the Tracebin server): exception chains and messages."""

from __future__ import annotations

import platform
import time
import uuid
from typing import Any

from tracebin._frames import frames_of
from tracebin._values import safe_repr
from tracebin._version import VERSION

MAX_CHAIN = 10  # exceptions kept of one chain (root cause side is dropped first)
MAX_VALUE = 8 * 1024  # characters of str(exception) kept

SDK = {"name": "tracebin.python", "version": VERSION}


def _runtime_contexts() -> dict[str, Any]:
    return {
        "runtime": {"name": platform.python_implementation(), "version": platform.python_version()},
        "os": {"name": platform.system(), "release": platform.release()},
    }


RUNTIME_CONTEXTS = _runtime_contexts()


def chain_of(exc: BaseException) -> list[BaseException]:
    """The exception and its causes, root cause first, raised exception last (like the traceback)."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    chain.reverse()
    return chain


def _value(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = safe_repr(exc)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"


def exception_values(
    exc: BaseException,
    *,
    mechanism: dict[str, Any] | None = None,
    include_locals: bool = True,
    in_app_include: tuple[str, ...] = (),
    in_app_exclude: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    values = []
    chain = chain_of(exc)
    for item in chain:
        kind = type(item)
        entry: dict[str, Any] = {
            "type": kind.__qualname__,
            "value": _value(item),
            "module": kind.__module__,
            "frames": frames_of(
                item.__traceback__,
                include_locals=include_locals,
                in_app_include=in_app_include,
                in_app_exclude=in_app_exclude,
            ),
        }
        if item is exc and mechanism is not None:
            entry["mechanism"] = mechanism
        elif item is not exc:
            entry["mechanism"] = {"type": "chained", "handled": True}
        values.append(entry)
    return values


def new_event(level: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": time.time(),
        "level": level,
        "platform": "python",
        "sdk": SDK,
    }


def message_text(message: Any) -> str:
    text = message if isinstance(message, str) else safe_repr(message)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"
