"""Sentry envelopes: a header line, then items of an item-header line and a payload (PROTOCOL.md §3).

    Envelope = Headers "\\n" { ItemHeaders "\\n" Payload [ "\\n" ] }
    Payload  = exactly `length` bytes when the item header has one, else everything up to the next "\\n"

The final newline is optional and blank lines between items are tolerated, as Sentry's own relay does.
Parsing never interprets payloads: callers decide which item types they read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from app.errors import BadRequest


@dataclass(frozen=True)
class EnvelopeItem:
    type: str
    headers: dict[str, Any]
    payload: bytes

    def json(self) -> Any:
        """The payload as JSON (event, client_report); BadRequest names the item when it is not JSON."""
        try:
            return orjson.loads(self.payload)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"{self.type} item: malformed JSON: {exc.msg} at position {exc.pos}") from None


@dataclass(frozen=True)
class Envelope:
    headers: dict[str, Any]
    items: tuple[EnvelopeItem, ...]

    def of_type(self, item_type: str) -> list[EnvelopeItem]:
        return [item for item in self.items if item.type == item_type]


def _line(body: bytes, start: int) -> tuple[bytes, int]:
    """The line starting at `start` (without its newline) and the offset after that newline."""
    end = body.find(b"\n", start)
    if end < 0:
        return body[start:], len(body)
    return body[start:end], end + 1


def _json_object(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"envelope {what}: malformed JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"envelope {what} must be a JSON object")
    return value


def _item_length(headers: dict[str, Any], index: int) -> int | None:
    length = headers.get("length")
    if length is None:
        return None
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise BadRequest(f"envelope item {index}: 'length' must be a non-negative integer")
    return length


def parse_envelope(body: bytes) -> Envelope:
    """Split an envelope into its header and items; BadRequest says what is malformed and where."""
    if not body.strip():
        raise BadRequest("the envelope is empty")
    header_line, offset = _line(body, 0)
    headers = _json_object(header_line, "header")
    items: list[EnvelopeItem] = []
    while offset < len(body):
        item_line, offset = _line(body, offset)
        if not item_line.strip():
            continue  # a blank line between items or at the end
        index = len(items)
        item_headers = _json_object(item_line, f"item {index} header")
        item_type = item_headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise BadRequest(f"envelope item {index}: 'type' must be a non-empty string")
        length = _item_length(item_headers, index)
        if length is None:
            payload, offset = _line(body, offset)
        else:
            payload = body[offset : offset + length]
            if len(payload) < length:
                raise BadRequest(f"envelope item {index}: payload is shorter than its length {length}")
            offset += length
            if offset < len(body):
                if body[offset : offset + 1] != b"\n":
                    raise BadRequest(f"envelope item {index}: no newline after its {length}-byte payload")
                offset += 1
        items.append(EnvelopeItem(type=item_type, headers=item_headers, payload=payload))
    return Envelope(headers=headers, items=tuple(items))
