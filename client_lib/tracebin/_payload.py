"""Event bodies: JSON that never fails on odd data, and the trimmed copy resent after a 413."""

from __future__ import annotations

import json
from typing import Any

from tracebin._values import safe_repr


def encode(event: dict[str, Any]) -> bytes:
    try:
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=safe_repr).encode()
    except (TypeError, ValueError):  # non-string keys, circular data in extra/contexts
        return json.dumps(_plain(event, 0), separators=(",", ":"), ensure_ascii=False).encode()


def _plain(value: Any, depth: int) -> Any:
    if depth > 20:
        return safe_repr(value)
    if isinstance(value, dict):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, depth + 1) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return safe_repr(value)


def trim(event: dict[str, Any]) -> dict[str, Any]:
    """A smaller copy of `event` for a resend after 413: no locals, less context, fewer frames."""
    small = dict(event)
    small.pop("extra", None)
    small["breadcrumbs"] = list(event.get("breadcrumbs") or [])[-10:]
    if isinstance(small.get("message"), str):
        small["message"] = small["message"][:2048]
    values = []
    for exc in event.get("exception") or []:
        exc = dict(exc)
        if isinstance(exc.get("value"), str):
            exc["value"] = exc["value"][:2048]
        frames = exc.get("frames") or []
        frames = frames[:5] + frames[-25:] if len(frames) > 30 else frames
        exc["frames"] = [
            {
                **frame,
                "vars": {},
                "pre_context": [],
                "post_context": [],
                "context_line": (frame.get("context_line") or "")[:256],
            }
            for frame in frames
        ]
        values.append(exc)
    if values:
        small["exception"] = values[-3:]
    request = small.get("request")
    if isinstance(request, dict):
        small["request"] = {key: request[key] for key in ("method", "url") if key in request}
    return small
