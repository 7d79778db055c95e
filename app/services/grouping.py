"""Grouping: which issue an event belongs to (PROTOCOL.md section 4).

- With a stack: the exception types of the chain and their in-app frames (module, or file when
  there is no module, and function) — never the message and never line numbers, so ids inside
  messages and code moving around in a file do not split an issue. Only the last dotted part of a
  function name counts: sentry-python reports `co_name` (`checkout`), the native client
  `co_qualname` (`Cart.checkout`), and one exception must group alike through both protocols.
- Without a stack: the exception type and the message with numbers, hex and uuids masked.
- A client `fingerprint` replaces this; `{{ default }}` inside it stands for the default parts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from app.memo import remember

_DEFAULT_MARKER = re.compile(r"^\{\{\s*default\s*\}\}$")
_MASKS = (
    (re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)*"), "<num>"),
)
# Memory addresses in function names (`<lambda at 0x7f...>`) differ per process.
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


@dataclass(slots=True)
class Grouping:
    fingerprint: str  # 32 hex: the identity within a project
    title: str
    culprit: str
    type: str


def mask_message(message: str) -> str:
    for pattern, replacement in _MASKS:
        message = pattern.sub(replacement, message)
    return message


def _grouping_frames(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    in_app = [frame for frame in frames if frame["in_app"]]
    return in_app or frames


def _frame_part(frame: dict[str, Any]) -> str:
    where = frame["module"] or frame["filename"] or frame["abs_path"]
    function: str = frame["function"]
    if "0x" in function:  # the regex only where it can match: this runs for every in-app frame
        function = _ADDRESS.sub("<addr>", function)
    if "." in function:
        function = function.rsplit(".", 1)[-1]
    return f"{where}:{function}"


def default_parts(event: dict[str, Any]) -> list[str]:
    chain = event["exception"]
    for exc in chain:
        if exc["frames"]:
            break
    else:  # no stack anywhere in the chain
        if chain:
            last = chain[-1]
            return [last["type"], mask_message(last["value"] or event["message"])]
        return ["message", mask_message(event["message"])]
    parts: list[str] = []
    for exc in chain:
        parts.append(exc["type"])
        parts += map(_frame_part, _grouping_frames(exc["frames"]))
    return parts


def fingerprint_parts(event: dict[str, Any]) -> list[str]:
    custom = event["fingerprint"]
    if not custom or all(_DEFAULT_MARKER.match(part) for part in custom):  # none, or just `{{ default }}`: the default
        return ["default", *default_parts(event)]
    parts = ["custom"]
    for part in custom:
        if _DEFAULT_MARKER.match(part):
            parts.extend(default_parts(event))
        else:
            parts.append(part)
    return parts


# Fingerprints by their joined parts: the events of one issue repeat them, and a lookup costs less
# than the hash. The parts are exception types, code locations, scrubbed and masked messages and a
# client's own fingerprint: nothing that is not stored with the event anyway. Bounded (cleared when full).
_KNOWN: dict[str, str] = {}
MAX_KNOWN = 4096
MAX_KNOWN_LENGTH = 2048


def fingerprint(event: dict[str, Any]) -> str:
    joined = "\x1f".join(fingerprint_parts(event))
    known = _KNOWN.get(joined)
    if known is None:
        known = hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        if len(joined) <= MAX_KNOWN_LENGTH:
            remember(_KNOWN, joined, known, MAX_KNOWN)
    return known


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def culprit(event: dict[str, Any]) -> str:
    """Where it crashed: the last in-app frame of the raised exception (`module in function`)."""
    if event["exception"]:
        frames = event["exception"][-1]["frames"]
        if frames:
            for frame in reversed(frames):  # the last in-app frame, else the last frame
                if frame["in_app"]:
                    break
            else:
                frame = frames[-1]
            return f"{frame['module'] or frame['filename']} in {frame['function']}"[:512]
    logger: str = event["logger"]
    return logger[:512]


def title(event: dict[str, Any]) -> str:
    if event["exception"]:
        last = event["exception"][-1]
        value = _first_line(last["value"])
        return (f"{last['type']}: {value}" if value else last["type"])[:512]
    return _first_line(event["message"]) or "(no message)"


def group(event: dict[str, Any]) -> Grouping:
    """The grouping of a normalised native event."""
    exc_type = event["exception"][-1]["type"] if event["exception"] else ""
    return Grouping(fingerprint=fingerprint(event), title=title(event), culprit=culprit(event), type=exc_type)
