"""Sentry's event payload mapped to Tracebin's native event (contract 1), field by field.

Only the shape changes here: Sentry's `exception.values[].stacktrace.frames[]` becomes
`exception[].frames[]`, `logentry` becomes `message`, pairs become dicts, timestamps become floats.
Defaults, truncation, scrubbing and grouping are the ingest service's job, exactly as for native
events, so both protocols end up as the same stored event and the same issue.
Sentry's orders already match ours: the root cause first in the chain, the caller first in a stack.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from app.errors import BadRequest

LEVELS = {
    "fatal": "fatal",
    "critical": "fatal",
    "error": "error",
    "warning": "warning",
    "warn": "warning",
    "info": "info",
    "log": "info",
    "debug": "debug",
    "trace": "debug",
}
# Where runtimes and packages live: frames from there are not the app's when the SDK did not say
# (sentry-python leaves in_app unset outside its project root, e.g. for the standard library; the
# native client calls those library frames, and grouping must agree).
_LIBRARY_PATH = re.compile(
    r"[/\\](?:site-packages|dist-packages|node_modules|gems|vendor[/\\]bundle)[/\\]"
    r"|[/\\]lib[/\\]python\d[\d.]*[/\\]|^/usr/lib/|^<",
    re.IGNORECASE,
)
# Event categories of a client report that are events for us (transactions, spans... are not).
EVENT_CATEGORIES = frozenset({"error", "default"})
DEFAULT_FINGERPRINT = "{{ default }}"
UNLABELED = "<unlabeled event>"
_DEFAULT_PART = re.compile(r"^\{\{\s*default\s*\}\}$", re.IGNORECASE)
# printf-style and brace placeholders, substituted without width or precision so a hostile
# template ("%999999999s") cannot make a huge string.
_PLACEHOLDER = re.compile(r"%%|%(?:\(([^)]*)\))?[sdifrxXoOj]|\{(\d*)\}")
MAX_TIMESTAMP = 1e11  # year 5138: anything larger is milliseconds or garbage
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def to_native(event: Mapping[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """The native event for a Sentry event (`event_id`: the envelope header's, when the event has none)."""
    if not isinstance(event, Mapping):
        raise BadRequest("the event must be a JSON object")
    native: dict[str, Any] = {}
    given_id = _event_id(event.get("event_id") or event_id)
    if given_id:
        native["event_id"] = given_id
    timestamp = parse_timestamp(event.get("timestamp"))
    if timestamp is not None:
        native["timestamp"] = timestamp
    native["level"] = LEVELS.get(str(event.get("level") or "error").lower(), "error")
    for name in ("platform", "logger", "release", "environment", "server_name"):
        value = _text(event.get(name))
        if value:
            native[name] = value
    message = event_message(event)
    chain = exception_chain(event.get("exception"))
    if chain:
        native["exception"] = chain
    if message or not chain:
        # Sentry stores an event with neither as "<unlabeled event>"; so do we, rather than refuse it.
        native["message"] = message or UNLABELED
    tags = _string_map(event.get("tags"))
    transaction = _text(event.get("transaction"))
    if transaction:
        # Sentry shows the route/transaction as the culprit; a tag keeps it visible on the event.
        tags.setdefault("transaction", transaction)
    if tags:
        native["tags"] = tags
    _copy_mapping(native, "user", _user(event.get("user")))
    _copy_mapping(native, "request", _request(event.get("request")))
    _copy_mapping(native, "contexts", _mapping_of_mappings(event.get("contexts")))
    _copy_mapping(native, "extra", _mapping(event.get("extra")))
    crumbs = breadcrumbs(event.get("breadcrumbs"))
    if crumbs:
        native["breadcrumbs"] = crumbs
    fingerprint = _fingerprint(event.get("fingerprint"))
    if fingerprint:
        native["fingerprint"] = fingerprint
    sdk = _sdk(event.get("sdk"))
    if sdk:
        native["sdk"] = sdk
    return native


def parse_timestamp(value: Any) -> float | None:
    """Unix seconds of an RFC 3339 string (naive means UTC, as in Sentry) or a number; None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _plausible(float(value))
    if not isinstance(value, str) or not value:
        return None
    try:
        return _plausible(float(value))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _plausible(parsed.timestamp())


def _plausible(seconds: float) -> float | None:
    # Milliseconds, NaN or negative times are an SDK bug: the received time is the better guess.
    return seconds if math.isfinite(seconds) and 0 <= seconds < MAX_TIMESTAMP else None


def event_message(event: Mapping[str, Any]) -> str:
    """The text of `logentry` (preferred: Sentry's logging integration) or `message` (string or object)."""
    for source in (event.get("logentry"), event.get("message")):
        if isinstance(source, str) and source:
            return source
        if isinstance(source, Mapping):
            text = _formatted(source)
            if text:
                return text
    return ""


def _formatted(entry: Mapping[str, Any]) -> str:
    formatted = entry.get("formatted")
    if isinstance(formatted, str) and formatted:
        return formatted
    template = entry.get("message")
    if not isinstance(template, str):
        return ""
    params = entry.get("params")
    return format_params(template, params) if params else template


def format_params(template: str, params: Any) -> str:
    """`template` with printf/brace placeholders filled from `params` (a list or a dict); never raises."""
    positional = list(params) if isinstance(params, list | tuple) else []
    named = params if isinstance(params, Mapping) else {}
    position = 0

    def substitute(match: re.Match[str]) -> str:
        nonlocal position
        text = match.group(0)
        if text == "%%":
            return "%"
        name, index = match.group(1), match.group(2)
        if name is not None:
            return _param_text(named[name]) if name in named else text
        if index:
            number = int(index)
            return _param_text(positional[number]) if number < len(positional) else text
        if position < len(positional):
            position += 1
            return _param_text(positional[position - 1])
        return text

    return _PLACEHOLDER.sub(substitute, template)


def _param_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def exception_chain(value: Any) -> list[dict[str, Any]]:
    """`exception` given as `{values: [...]}`, a bare list, or one exception object."""
    if isinstance(value, Mapping):
        values = value.get("values") if "values" in value else [value]
    else:
        values = value
    if values is None:
        return []
    if not isinstance(values, list):
        raise BadRequest("'exception' must be a list or an object with 'values'", field="exception")
    return [_exception(item) for item in values if isinstance(item, Mapping)]


def _exception(value: Mapping[str, Any]) -> dict[str, Any]:
    exc: dict[str, Any] = {
        "type": _text(value.get("type")) or "Error",
        "value": _text(value.get("value")),
    }
    module = _text(value.get("module"))
    if module:
        exc["module"] = module
    mechanism = value.get("mechanism")
    if isinstance(mechanism, Mapping):
        exc["mechanism"] = {
            "type": _text(mechanism.get("type")) or "generic",
            "handled": mechanism.get("handled") is not False,
        }
    stacktrace = value.get("stacktrace") or value.get("raw_stacktrace")
    frames = stacktrace.get("frames") if isinstance(stacktrace, Mapping) else None
    exc["frames"] = (
        [_frame(frame) for frame in frames if isinstance(frame, Mapping)] if isinstance(frames, list) else []
    )
    return exc


def _frame(frame: Mapping[str, Any]) -> dict[str, Any]:
    filename = _text(frame.get("filename")) or _text(frame.get("abs_path"))
    abs_path = _text(frame.get("abs_path")) or filename
    in_app = frame.get("in_app")
    if not isinstance(in_app, bool):
        in_app = not _LIBRARY_PATH.search(abs_path)
    return {
        "filename": filename,
        "abs_path": abs_path,
        "function": _text(frame.get("function")) or _text(frame.get("raw_function")),
        "module": _text(frame.get("module")),
        "lineno": _int(frame.get("lineno")),
        "colno": _int(frame.get("colno")),
        "context_line": _text(frame.get("context_line")),
        "pre_context": _lines(frame.get("pre_context")),
        "post_context": _lines(frame.get("post_context")),
        "in_app": in_app,
        "vars": _mapping(frame.get("vars")),
    }


def breadcrumbs(value: Any) -> list[dict[str, Any]]:
    """`breadcrumbs` given as `{values: [...]}` or a bare list."""
    if isinstance(value, Mapping):
        value = value.get("values")
    if not isinstance(value, list):
        return []
    crumbs = []
    for crumb in value:
        if not isinstance(crumb, Mapping):
            continue
        crumbs.append(
            {
                "timestamp": parse_timestamp(crumb.get("timestamp")),
                "type": _text(crumb.get("type")) or "default",
                "category": _text(crumb.get("category")),
                "level": LEVELS.get(str(crumb.get("level") or "info").lower(), "info"),
                "message": _text(crumb.get("message")),
                "data": _mapping(crumb.get("data")),
            }
        )
    return crumbs


def client_report_drops(report: Any) -> list[tuple[str, int]]:
    """(reason, quantity) of the events a client report says the SDK dropped (other categories ignored)."""
    if not isinstance(report, Mapping):
        raise BadRequest("client_report item must be a JSON object")
    discarded = report.get("discarded_events")
    drops: list[tuple[str, int]] = []
    for entry in discarded if isinstance(discarded, list) else []:
        if not isinstance(entry, Mapping) or entry.get("category") not in EVENT_CATEGORIES:
            continue
        reason, quantity = entry.get("reason"), _int(entry.get("quantity"))
        if isinstance(reason, str) and reason and quantity and quantity > 0:
            drops.append((reason[:64], quantity))
    return drops


def _event_id(value: Any) -> str:
    """32 lowercase hex; Sentry also accepts the dashed UUID form. Anything else: let the server pick."""
    if not isinstance(value, str):
        return ""
    candidate = value.replace("-", "").lower()
    return candidate if _HEX_ID.match(candidate) else ""


def _fingerprint(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    parts = []
    for part in value:
        if part is None or isinstance(part, Mapping | list):
            continue
        text = _text(part)
        parts.append(DEFAULT_FINGERPRINT if _DEFAULT_PART.match(text) else text)
    return parts


def _user(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {name: _text(value[name]) for name in ("id", "email", "username", "ip_address") if value.get(name)}


def _request(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    request: dict[str, Any] = {}
    for name in ("method", "url"):
        if value.get(name):
            request[name] = _text(value[name])
    query = value.get("query_string")
    if isinstance(query, str):
        request["query_string"] = query
    elif isinstance(query, Mapping | list):
        request["query_string"] = urlencode(list(_pairs(query)))
    headers = _string_map(value.get("headers"))
    if headers:
        request["headers"] = headers
    cookies = value.get("cookies")
    cookie_map = _cookie_map(cookies) if isinstance(cookies, str) else _string_map(cookies)
    if cookie_map:
        request["cookies"] = cookie_map
    if value.get("data") is not None:
        request["data"] = value["data"]
    env = _mapping(value.get("env"))
    if env:
        request["env"] = env
    return request


def _cookie_map(header: str) -> dict[str, str]:
    cookies = {}
    for part in header.split(";"):
        name, sep, cookie = part.strip().partition("=")
        if sep and name:
            cookies[name] = cookie
    return cookies


def _sdk(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {name: _text(value[name]) for name in ("name", "version") if value.get(name)}


def _pairs(value: Any) -> Iterable[tuple[str, str]]:
    """(key, value) of a dict or of a list of pairs, as Sentry sends tags, headers and query strings."""
    if isinstance(value, Mapping):
        items: Iterable[Any] = value.items()
    elif isinstance(value, list):
        items = (pair for pair in value if isinstance(pair, list | tuple) and len(pair) == 2)
    else:
        return
    for key, item in items:
        if key is not None and item is not None:
            yield _text(key), _text(item)


def _string_map(value: Any) -> dict[str, str]:
    return dict(_pairs(value))


def _mapping(value: Any) -> dict[str, Any]:
    return {str(key): item for key, item in value.items()} if isinstance(value, Mapping) else {}


def _mapping_of_mappings(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    return {str(key): dict(item) for key, item in value.items() if isinstance(item, Mapping)}


def _copy_mapping(target: dict[str, Any], name: str, value: Mapping[str, Any]) -> None:
    if value:
        target[name] = value


def _lines(value: Any) -> list[Any]:
    # Passed through: the native normaliser already turns and cuts each line into a string.
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
