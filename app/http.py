"""HTTP helpers shared by the routes: JSON replies, bounded bodies, Basic auth."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.errors import BadRequest, PayloadTooLarge


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        super().init_headers(headers)
        if headers is None or "x-content-type-options" not in headers:
            # Also on API replies, which skip the security-headers middleware (app.api_scope).
            self.raw_headers.append(_NOSNIFF)


_NOSNIFF = (b"x-content-type-options", b"nosniff")


def error_body(message: str, field: str | None = None) -> dict[str, str]:
    body = {"message": message}
    if field:
        body["field"] = field
    return body


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) before more than `limit` bytes are buffered."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc.msg} at position {exc.pos}") from None


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    data = parse_json(await read_body(request, limit))
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def basic_auth(request: Request) -> tuple[str, str] | None:
    """The (user, password) of an `Authorization: Basic` header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (user, "")


def secrets_match(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (length leaks nothing useful here)."""
    return hmac.compare_digest(given.encode(), expected.encode())
