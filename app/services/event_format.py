"""Tracebin's native event: validation and normalisation (common.md contract 1).

`normalise` turns a decoded JSON body into the stored form: every key present, defaults filled,
long strings and long lists cut with a TRUNCATED marker (never rejected), unknown fields dropped,
free-form objects scrubbed (scrubbing's rules) in the same copy. Hot path: no work is repeated.
Wrong types are a BadRequest naming the field (`exception[0].frames`).
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson

from app.errors import BadRequest
from app.memo import remember
from app.services.scrubbing import FILTERED, KNOWN_CLEAN, KNOWN_KEYS, is_denied_key, scrub_query_string, scrub_string

TRUNCATED = "…[truncated]"
LEVELS = frozenset({"fatal", "error", "warning", "info", "debug"})
LEVEL_ALIASES = {"warn": "warning", "critical": "fatal", "log": "info", "err": "error", "trace": "debug"}

# Caps (characters or items). Beyond them content is cut and marked, not refused.
MAX_MESSAGE = 8192
MAX_VALUE = 4096
MAX_NAME = 256  # type, module, function, logger, platform, server_name
MAX_PATH = 1024
MAX_LINE = 1024  # context lines
MAX_CONTEXT_LINES = 10
MAX_RELEASE = 128
MAX_ENVIRONMENT = 64
MAX_CHAIN = 25
MAX_FRAMES = 250  # the first 50 and the last 200 are kept
MAX_BREADCRUMBS = 100  # the most recent are kept
MAX_TAGS = 100
MAX_TAG_KEY = 64
MAX_TAG_VALUE = 256
MAX_FINGERPRINT = 16
MAX_FREE_STRING = 2048  # strings inside free-form objects (request, extra, contexts, vars, user)
MAX_FREE_ITEMS = 200
MAX_FREE_DEPTH = 8

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_SCALAR = (str, int, float)
_NUMBER = (int, float)  # a tuple: `int | float` would build a union object at every call
_known_key = KNOWN_KEYS.get  # is_denied_key's memo: True, False, or None (not asked yet)
_INT_MIN, _INT_MAX = -(2**53), 2**53  # line numbers and the like: exact in JSON everywhere


class _Wrong(Exception):
    """A value of the wrong type; the caller adds where it was (paths are built only on failure)."""

    def __init__(self, name: str, expected: str) -> None:
        super().__init__(name)
        self.name = name
        self.expected = expected


def _fail(field: str, expected: str) -> BadRequest:
    return BadRequest(f"'{field}' must be {expected}", field=field)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(TRUNCATED))] + TRUNCATED


def _str(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if value.__class__ is str:
        return value if len(value) <= limit else cut(value, limit)
    if value is None:
        return ""
    if isinstance(value, _NUMBER) and not isinstance(value, bool):
        return cut(str(value), limit)
    raise _Wrong(name, "a string")


def _obj(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if value.__class__ is not dict:
        raise _Wrong(name, "an object")
    normalised: dict[str, Any] = free_form(value)
    return normalised


def _int_or_none(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None or (value.__class__ is int and _INT_MIN <= value <= _INT_MAX):
        return value
    if isinstance(value, bool) or not isinstance(value, _NUMBER) or not _INT_MIN <= value <= _INT_MAX:
        raise _Wrong(name, "an integer")
    return int(value)


def free_form(value: Any, depth: int = 0) -> Any:
    """A free-form JSON value cut to size and scrubbed: a copy where anything changed, else the value itself.

    Long strings are cut, long containers trimmed, deep nesting replaced (all marked TRUNCATED);
    scrubbing's key and value rules are applied in the same walk, so the value is copied once.
    """
    cls = value.__class__
    if cls is str:
        if value in KNOWN_CLEAN:
            return value
        if len(value) > MAX_FREE_STRING:
            value = cut(value, MAX_FREE_STRING)
        return scrub_string(value)
    if cls is dict:
        if depth >= MAX_FREE_DEPTH:
            return TRUNCATED
        depth += 1
        # Copied only once something in it changes: most free-form objects pass as they came, and
        # the parsed body belongs to this request alone, so it can be part of the result. A long
        # one is trimmed, so it is copied (its first entries) from the start.
        trimmed = len(value) > MAX_FREE_ITEMS
        items = islice(value.items(), MAX_FREE_ITEMS) if trimmed else value.items()
        out: dict[str, Any] | None = dict(islice(value.items(), MAX_FREE_ITEMS)) if trimmed else None
        for key, item in items:
            denied = _known_key(key)
            if denied is None:
                denied = is_denied_key(key)
            if denied:
                new = FILTERED
            elif item.__class__ is str:  # the common leaf, inline (a remembered string is short and clean)
                if item in KNOWN_CLEAN:
                    continue
                new = free_form(item)
            else:
                new = free_form(item, depth)
            if new is not item:
                if out is None:
                    out = value.copy()
                out[key] = new
        if out is None:
            return value
        if trimmed:
            out[TRUNCATED] = len(value) - MAX_FREE_ITEMS
        return out
    if cls is list:
        if depth >= MAX_FREE_DEPTH:
            return TRUNCATED
        depth += 1
        items = [_free_item(item, depth) for item in value[:MAX_FREE_ITEMS]]
        if len(value) > MAX_FREE_ITEMS:
            items.append(TRUNCATED)
        return items
    return value


def _free_item(item: Any, depth: int) -> Any:
    # Headers and query strings often come as [name, value] pairs: the name acts as a key.
    if item.__class__ is list and len(item) == 2 and item[0].__class__ is str and is_denied_key(item[0]):
        return [item[0], FILTERED]
    return free_form(item, depth)


def _event_id(data: dict[str, Any]) -> str:
    value = data.get("event_id")
    if value is None or value == "":
        return uuid.uuid4().hex
    if isinstance(value, str):
        if _HEX32.match(value):  # what SDKs send: 32 lower-case hex digits
            return value
        candidate = value.replace("-", "").lower()
        if _HEX32.match(candidate):
            return candidate
    raise _fail("event_id", "32 hexadecimal characters")


def _timestamp(data: dict[str, Any], received_at: float) -> float:
    value = data.get("timestamp")
    if value is None:
        return received_at
    if isinstance(value, _NUMBER) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value < 1e11:
            raise _fail("timestamp", "an RFC 3339 string or a Unix time")
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise _fail("timestamp", "an RFC 3339 string or a Unix time") from None
        if parsed.tzinfo is None:  # naive times are UTC, as Sentry SDKs mean them
            return parsed.replace(tzinfo=UTC).timestamp()
        return parsed.timestamp()
    raise _fail("timestamp", "an RFC 3339 string or a Unix time")


def _level(data: dict[str, Any]) -> str:
    value = data.get("level")
    if value is None:
        return "error"
    if not isinstance(value, str):
        raise _fail("level", "one of fatal, error, warning, info, debug")
    level = value.lower()
    return level if level in LEVELS else LEVEL_ALIASES.get(level, "error")


def _lines(frame: dict[str, Any], name: str) -> list[str]:
    value = frame.get(name)
    if value is None:
        return []
    if value.__class__ is not list:
        raise _Wrong(name, "a list of strings")
    lines = value[-MAX_CONTEXT_LINES:] if name == "pre_context" else value[:MAX_CONTEXT_LINES]
    return [
        scrub_string(
            (line if len(line) <= MAX_LINE else cut(line, MAX_LINE))
            if line.__class__ is str
            else cut(str(line), MAX_LINE)
        )
        for line in lines
    ]


def _text(frame: dict[str, Any], name: str, limit: int) -> str:
    """A string field of a frame: the common case (a short string) inline, anything else through `_str`."""
    value = frame.get(name)
    return value if value.__class__ is str and len(value) <= limit else _str(frame, name, limit)


def _frame(frame: Any) -> dict[str, Any]:
    if frame.__class__ is not dict:
        raise _Wrong("", "an object")
    get = frame.get
    vars_ = get("vars")
    if vars_ is not None and vars_.__class__ is not dict:
        raise _Wrong("vars", "an object")
    in_app = get("in_app")
    if in_app is not None and in_app.__class__ is not bool:
        raise _Wrong("in_app", "a boolean")
    filename = _text(frame, "filename", MAX_PATH)
    abs_path = _text(frame, "abs_path", MAX_PATH)
    function = _text(frame, "function", MAX_NAME)
    module = _text(frame, "module", MAX_NAME)
    context_line = scrub_string(_text(frame, "context_line", MAX_LINE))
    lineno = get("lineno")
    if lineno is not None and (lineno.__class__ is not int or not _INT_MIN <= lineno <= _INT_MAX):
        lineno = _int_or_none(frame, "lineno")
    colno = get("colno")
    if colno is not None and (colno.__class__ is not int or not _INT_MIN <= colno <= _INT_MAX):
        colno = _int_or_none(frame, "colno")
    # One dict display (cheaper than a key at a time); the key order is the stored order.
    return {
        "filename": filename,
        "abs_path": abs_path,
        "function": function,
        "module": module,
        "context_line": context_line,
        "lineno": lineno,
        "colno": colno,
        "pre_context": _lines(frame, "pre_context") if "pre_context" in frame else [],
        "post_context": _lines(frame, "post_context") if "post_context" in frame else [],
        "in_app": in_app is True,
        "vars": free_form(vars_) if vars_ else {},
    }


# Normalised frames by their raw JSON, locals left out. The same code reports the same frames over
# and over (file, function, line, source context), while locals often differ from event to event, so
# they are normalised on their own every time. A lookup costs a fraction of normalising the rest.
# Only frames that normalising left as they were are kept (no field but a frame's own, nothing
# filtered, nothing cut), so no secret is ever held here. Bounded: cleared when full. Entries are
# shared by the events that hit them (copied when the event has locals); normalised events are never
# modified.
_FRAME_MEMO: dict[bytes, dict[str, Any]] = {}
MAX_FRAME_MEMO = 4096
MAX_FRAME_MEMO_KEY = 2048
FRAME_FIELDS = frozenset(
    {
        "filename",
        "abs_path",
        "function",
        "module",
        "context_line",
        "lineno",
        "colno",
        "pre_context",
        "post_context",
        "in_app",
    }
)
_UNSAFE_MARKS = (FILTERED.encode(), TRUNCATED.encode())


def _memo_frames(frames: list[Any]) -> list[dict[str, Any]]:
    """Normalised frames, through the memo: one loop with the lookup inline (this runs per frame)."""
    out = []
    get = _FRAME_MEMO.get
    for frame in frames:
        if frame.__class__ is not dict:
            raise _Wrong("", "an object")
        has_vars = "vars" in frame
        vars_ = frame.pop("vars") if has_vars else None  # out of the key: put back below
        try:
            if vars_ is not None and vars_.__class__ is not dict:
                raise _Wrong("vars", "an object")
            try:
                key = orjson.dumps(frame)
            except orjson.JSONEncodeError:  # e.g. an integer past 64 bits in a frame built by code
                normalised = _frame(frame)
            else:
                normalised = get(key) or _remember_frame(frame, key)
        finally:
            if has_vars:  # the error path reads the frame again
                frame["vars"] = vars_
        if vars_:
            normalised = normalised.copy()
            normalised["vars"] = free_form(vars_)
        out.append(normalised)
    return out


def _remember_frame(frame: dict[str, Any], key: bytes) -> dict[str, Any]:
    """A frame the memo does not hold (its locals taken out): normalised, and kept when it is safe to."""
    normalised = _frame(frame)
    if len(key) <= MAX_FRAME_MEMO_KEY and frame.keys() <= FRAME_FIELDS:
        stored = orjson.dumps(normalised)
        if _UNSAFE_MARKS[0] not in stored and _UNSAFE_MARKS[1] not in stored:
            remember(_FRAME_MEMO, key, normalised, MAX_FRAME_MEMO)
    return normalised


def _frames(exc: dict[str, Any], index: int) -> list[dict[str, Any]]:
    frames = exc.get("frames")
    nested = ""
    if frames is None:
        # Sentry's shape nests them: {"stacktrace": {"frames": [...]}}.
        stacktrace = exc.get("stacktrace")
        if stacktrace.__class__ is dict:
            frames, nested = stacktrace.get("frames"), ".stacktrace"
    if frames is None:
        return []
    if frames.__class__ is not list:
        raise _fail(f"exception[{index}]{nested}.frames", "a list")
    if len(frames) > MAX_FRAMES:
        # Keep both ends: the entry point and the crash site; the middle is the least telling.
        frames = frames[:50] + frames[-(MAX_FRAMES - 50) :]
    try:
        return _memo_frames(frames)
    except _Wrong:
        pass
    for i, frame in enumerate(frames):  # which frame was wrong, to name it (only after a failure)
        try:
            _frame(frame)
        except _Wrong as wrong:
            where = f"exception[{index}]{nested}.frames[{i}]"  # field names are built only on a failure
            raise _fail(f"{where}.{wrong.name}" if wrong.name else where, wrong.expected) from None
    raise AssertionError("a frame was refused, then accepted")  # pragma: no cover


def _exception(exc: Any, index: int) -> dict[str, Any]:
    if exc.__class__ is not dict:
        raise _fail(f"exception[{index}]", "an object")
    get = exc.get
    mechanism = get("mechanism")
    value = get("value")
    try:
        if mechanism is not None and mechanism.__class__ is not dict:
            raise _Wrong("mechanism", "an object")
        return {
            "type": _text(exc, "type", MAX_NAME) or "Error",
            "value": value
            if value.__class__ is str and value in KNOWN_CLEAN
            else scrub_string(_str(exc, "value", MAX_VALUE)),
            "module": _text(exc, "module", MAX_NAME),
            "mechanism": free_form(mechanism) if mechanism else None,
            "frames": _frames(exc, index),
        }
    except _Wrong as wrong:
        raise _fail(f"exception[{index}].{wrong.name}", wrong.expected) from None


def _latest(data: dict[str, Any], name: str, expected: str, limit: int) -> tuple[list[Any], int]:
    """A Sentry-style list (a list, or `{"values": [...]}`) cut to its last `limit` items, and the
    index of the first item kept; `[]` when absent."""
    items = data.get(name)
    if items is None:
        return [], 0
    if items.__class__ is dict and "values" in items:
        items = items["values"]
    if items.__class__ is not list:
        raise _Wrong(name, expected)
    offset = max(0, len(items) - limit)
    return items[offset:], offset


def _chain(data: dict[str, Any]) -> list[dict[str, Any]]:
    # The raised exception and its nearest causes are kept.
    chain, _ = _latest(data, "exception", "a list of exceptions", MAX_CHAIN)
    return [_exception(exc, i) for i, exc in enumerate(chain)]


def _tags(data: dict[str, Any]) -> dict[str, str]:
    tags = data.get("tags")
    if tags is None:
        return {}
    if isinstance(tags, list):  # Sentry also allows [[key, value], ...]
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in tags):
            raise _Wrong("tags", "an object of strings")
        tags = {str(key): value for key, value in tags}
    if not isinstance(tags, dict):
        raise _Wrong("tags", "an object of strings")
    out = {}
    for key, value in list(tags.items())[:MAX_TAGS] if len(tags) > MAX_TAGS else tags.items():
        if key.__class__ is not str or len(key) > MAX_TAG_KEY:
            key = cut(str(key), MAX_TAG_KEY)
        denied = _known_key(key)
        if denied or (denied is None and is_denied_key(key)):
            out[key] = FILTERED
        elif value.__class__ is str and value in KNOWN_CLEAN and len(value) <= MAX_TAG_VALUE:
            out[key] = value
        else:
            if value.__class__ is not str:
                value = str(value)
            out[key] = scrub_string(value if len(value) <= MAX_TAG_VALUE else cut(value, MAX_TAG_VALUE))
    return out


def _breadcrumb(crumb: Any) -> dict[str, Any]:
    if crumb.__class__ is not dict:
        raise _Wrong("", "an object")
    stamp = crumb.get("timestamp")
    message = crumb.get("message")
    return {
        "timestamp": stamp if isinstance(stamp, _SCALAR) else None,
        "type": _text(crumb, "type", MAX_NAME) or "default",
        "category": _text(crumb, "category", MAX_NAME),
        "level": _text(crumb, "level", 16) or "info",
        "message": message
        if message.__class__ is str and message in KNOWN_CLEAN
        else scrub_string(_str(crumb, "message", MAX_FREE_STRING)),
        "data": _obj(crumb, "data"),
    }


def _breadcrumbs(data: dict[str, Any]) -> list[dict[str, Any]]:
    crumbs, offset = _latest(data, "breadcrumbs", "a list", MAX_BREADCRUMBS)  # the most recent are kept
    out = []
    for crumb in crumbs:
        try:
            out.append(_breadcrumb(crumb))
        except _Wrong as wrong:
            where = f"breadcrumbs[{offset + len(out)}]"
            raise _fail(f"{where}.{wrong.name}" if wrong.name else where, wrong.expected) from None
    return out


def _fingerprint(data: dict[str, Any]) -> list[str]:
    value = data.get("fingerprint")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(part, _SCALAR) for part in value):
        raise _Wrong("fingerprint", "a list of strings")
    return [cut(str(part), MAX_NAME) for part in value[:MAX_FINGERPRINT]]


def _message(data: dict[str, Any]) -> str:
    value = data.get("message")
    if value.__class__ is dict:  # Sentry's {"formatted": ..., "message": ...}
        value = value.get("formatted") or value.get("message")
    if value is None:
        return ""
    if value.__class__ is not str:
        raise _Wrong("message", "a string")
    return scrub_string(cut(value, MAX_MESSAGE))


def _request(data: dict[str, Any]) -> dict[str, Any]:
    request = _obj(data, "request")
    query = request.get("query_string")
    if query.__class__ is str and "=" in query:
        scrubbed = scrub_query_string(query)
        if scrubbed != query:  # free_form may have returned the body's own object: not changed in place
            request = {**request, "query_string": scrubbed}
    return request


def normalise(data: Any, received_at: int) -> dict[str, Any]:
    """The stored form of an event body; BadRequest naming the field when it cannot be one.

    Scrubbed while copied, with `app.services.scrubbing`'s rules: denied keys at any depth of the
    free-form parts (request, user, contexts, extra, tags, frame vars, breadcrumb data), secret-shaped
    values in every string, messages, exception values and source lines included — so the result
    is exactly what `scrubbing.scrub_event` would make of it (a test keeps the two in step).
    """
    if data.__class__ is not dict:
        raise BadRequest("the body must be a JSON object (an event)")
    try:
        chain = _chain(data)
        message = _message(data)
        if not chain and not message:
            raise BadRequest("an event needs an 'exception' list or a 'message'", field="exception")
        return {
            "event_id": _event_id(data),
            "timestamp": _timestamp(data, float(received_at)),
            "level": _level(data),
            "platform": _text(data, "platform", MAX_NAME) or "other",
            "logger": _text(data, "logger", MAX_NAME),
            "message": message,
            "exception": chain,
            "release": _text(data, "release", MAX_RELEASE),
            "environment": _text(data, "environment", MAX_ENVIRONMENT),
            "server_name": _text(data, "server_name", MAX_NAME),
            "tags": _tags(data),
            "user": _obj(data, "user"),
            "request": _request(data),
            "contexts": _obj(data, "contexts"),
            "extra": _obj(data, "extra"),
            "breadcrumbs": _breadcrumbs(data),
            "fingerprint": _fingerprint(data),
            "sdk": _obj(data, "sdk"),
            "received_at": received_at,
        }
    except _Wrong as wrong:
        raise _fail(wrong.name, wrong.expected) from None
