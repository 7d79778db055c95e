"""Bounded snapshots of local variables: depth, breadth and string length are capped.

Runs in the calling thread (locals must be read before the app moves on), so it is written for
speed: plain types take a fast path and containers are walked only up to the caps.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 3  # nested containers below a frame's variable
MAX_BREADTH = 20  # items kept per container, variables kept per frame
MAX_STRING = 256  # characters kept of any one repr
TRUNCATED = "…"

_SCALARS = (int, float, bool, type(None), bytes, complex)


def _cut(text: str, limit: int = MAX_STRING) -> str:
    return text if len(text) <= limit else text[:limit] + TRUNCATED


def safe_repr(value: Any) -> str:
    try:
        return _cut(repr(value))
    except Exception:
        # A broken __repr__ in the app must not break (or hide) the report.
        return f"<{type(value).__name__} object (repr failed)>"


def snapshot(value: Any, depth: int = 0) -> Any:
    """A JSON-ready copy of `value`: reprs for leaves, dicts and lists for containers, all capped."""
    if isinstance(value, str):
        return repr(value) if len(value) <= MAX_STRING else repr(value[:MAX_STRING]) + TRUNCATED
    if isinstance(value, _SCALARS):
        return safe_repr(value)
    if depth >= MAX_DEPTH:
        return safe_repr(value)
    kind = type(value)
    if kind is dict or (isinstance(value, dict) and getattr(kind, "__repr__", None) is dict.__repr__):
        out: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_BREADTH:
                out[TRUNCATED] = f"{len(value) - MAX_BREADTH} more"
                break
            out[_cut(key if isinstance(key, str) else safe_repr(key), 128)] = snapshot(item, depth + 1)
        return out
    if kind in (list, tuple, set, frozenset):
        items: list[Any] = []
        for index, item in enumerate(value):
            if index >= MAX_BREADTH:
                items.append(f"{TRUNCATED} {len(value) - MAX_BREADTH} more")
                break
            items.append(snapshot(item, depth + 1))
        return items
    return safe_repr(value)


def frame_vars(local_vars: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for index, (name, value) in enumerate(local_vars.items()):
        if index >= MAX_BREADTH * 2:
            out[TRUNCATED] = f"{len(local_vars) - index} more"
            break
        out[name] = snapshot(value)
    return out
