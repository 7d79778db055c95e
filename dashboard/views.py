"""Shape a stored event payload (contract 1, attacker-chosen) into plain strings for the templates.

Nothing here marks text safe: the templates autoescape every value this returns. Unexpected shapes
(older payloads, odd SDKs) degrade to text instead of failing the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

MAX_FRAMES = 250


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    return pretty(value)


def pretty(value: Any) -> str:
    """JSON text of nested data (locals, request data, contexts), for a <pre> block."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return repr(value)


def pairs(value: Any) -> list[tuple[str, str]]:
    """Tags and headers arrive as a map or as a list of [key, value] pairs."""
    if isinstance(value, Mapping):
        return [(text(key), text(item)) for key, item in value.items()]
    if isinstance(value, list):
        found = []
        for item in value:
            if isinstance(item, (list, tuple)) and len(item) == 2:
                found.append((text(item[0]), text(item[1])))
        return found
    return []


def _lines(value: Any) -> list[str]:
    return [text(line) for line in value] if isinstance(value, list) else []


def _frame(frame: Any) -> dict[str, Any]:
    frame = frame if isinstance(frame, Mapping) else {}
    lineno = frame.get("lineno")
    variables = frame.get("vars")
    return {
        "filename": text(frame.get("filename") or frame.get("abs_path") or frame.get("module") or "?"),
        "function": text(frame.get("function") or "?"),
        "module": text(frame.get("module")),
        "lineno": lineno if isinstance(lineno, int) else None,
        "context_line": text(frame.get("context_line")) if frame.get("context_line") is not None else None,
        "pre_context": _lines(frame.get("pre_context")),
        "post_context": _lines(frame.get("post_context")),
        "in_app": frame.get("in_app") is True,
        "vars": pairs(variables) if isinstance(variables, Mapping) else [],
    }


def _exception(value: Any) -> dict[str, Any]:
    value = value if isinstance(value, Mapping) else {}
    mechanism = value.get("mechanism") if isinstance(value.get("mechanism"), Mapping) else {}
    frames = value.get("frames")
    if frames is None and isinstance(value.get("stacktrace"), Mapping):
        frames = value["stacktrace"].get("frames")
    frame_list = frames if isinstance(frames, list) else []
    return {
        "type": text(value.get("type") or "Error"),
        "value": text(value.get("value")),
        "module": text(value.get("module")),
        "handled": mechanism.get("handled") if isinstance(mechanism.get("handled"), bool) else None,
        "frames": [_frame(frame) for frame in frame_list[-MAX_FRAMES:]],
    }


def _breadcrumb(crumb: Any) -> dict[str, str]:
    crumb = crumb if isinstance(crumb, Mapping) else {}
    data = crumb.get("data")
    return {
        "timestamp": text(crumb.get("timestamp")),
        "category": text(crumb.get("category") or crumb.get("type")),
        "level": text(crumb.get("level")),
        "message": text(crumb.get("message")),
        "data": pretty(data) if data else "",
    }


def _section(payload: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = payload.get(name)
    return value if isinstance(value, Mapping) else {}


def event_view(payload: Mapping[str, Any]) -> dict[str, Any]:
    exceptions = payload.get("exception")
    if isinstance(exceptions, Mapping):  # a Sentry-shaped {"values": [...]}
        exceptions = exceptions.get("values")
    breadcrumbs = payload.get("breadcrumbs")
    if isinstance(breadcrumbs, Mapping):
        breadcrumbs = breadcrumbs.get("values")
    request = _section(payload, "request")
    return {
        "message": text(payload.get("message")),
        "level": text(payload.get("level")),
        "platform": text(payload.get("platform")),
        "logger": text(payload.get("logger")),
        "release": text(payload.get("release")),
        "environment": text(payload.get("environment")),
        "server_name": text(payload.get("server_name")),
        # Stored root cause first; shown as Python prints it (root first, raised exception last).
        "exceptions": [_exception(item) for item in exceptions] if isinstance(exceptions, list) else [],
        "tags": pairs(payload.get("tags")),
        "user": pairs(_section(payload, "user")),
        "request": {
            "method": text(request.get("method")),
            "url": text(request.get("url")),
            "query_string": text(request.get("query_string")),
            "headers": pairs(request.get("headers")),
            "data": pretty(request.get("data")) if request.get("data") not in (None, "", {}) else "",
        },
        "breadcrumbs": [_breadcrumb(crumb) for crumb in breadcrumbs] if isinstance(breadcrumbs, list) else [],
        "contexts": pretty(payload.get("contexts")) if payload.get("contexts") else "",
        "extra": pretty(payload.get("extra")) if payload.get("extra") else "",
        "sdk": pairs(_section(payload, "sdk")),
    }
