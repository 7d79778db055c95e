"""Event bodies: bounded reads that honour Content-Encoding gzip, deflate and br.

The limit applies twice: to the bytes on the wire (refused before they are buffered) and to the
decompressed bytes, which are produced in bounded steps so a compression bomb costs at most
`limit` bytes of memory before it is answered with 413.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import brotli
from starlette.requests import ClientDisconnect, Request

from app.errors import BadRequest, PayloadTooLarge

EVENT_LIMIT = 1024 * 1024

# Decompress at most this much per step, so a bomb never overshoots the limit by more.
_STEP = 64 * 1024


async def read_event_body(request: Request, limit: int = EVENT_LIMIT) -> bytes:
    """The request body, decompressed; 413 past `limit` (on the wire or decompressed), 400 if corrupt."""
    encoding = ""
    declared = None
    # One pass over the raw headers (this is the hot path; Headers.get scans them per lookup).
    for name, value in request.scope["headers"]:
        if name == b"content-encoding":
            encoding = value.decode("latin-1").strip().lower()
        elif name == b"content-length":
            declared = value
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    # ASGI receive() directly: Request.stream()'s async generator costs more than the usual single chunk.
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if not encoding or encoding == "identity":
        return raw
    return decompress(raw, encoding, limit)


def decompress(data: bytes, encoding: str, limit: int) -> bytes:
    """Decode `data` in bounded steps; PayloadTooLarge as soon as the output passes `limit`."""
    decoder = _DECODERS.get(encoding)
    if decoder is None:
        raise BadRequest(
            f"unsupported Content-Encoding '{encoding}' (use gzip, deflate or br)", field="content-encoding"
        )
    try:
        return decoder(data, limit)
    except (zlib.error, brotli.error):
        raise BadRequest(f"the body is not valid {encoding} data", field="content-encoding") from None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the decompressed body is larger than {limit} bytes")


def _inflate(data: bytes, limit: int, wbits: int) -> bytes:
    decoder = zlib.decompressobj(wbits)
    out = bytearray()
    pending = data
    while True:
        out += decoder.decompress(pending, _STEP)
        if len(out) > limit:
            raise _too_large(limit)
        pending = decoder.unconsumed_tail
        if decoder.eof or not pending:
            break
    if not decoder.eof:
        raise zlib.error("truncated stream")
    return bytes(out)


def _gunzip(data: bytes, limit: int) -> bytes:
    return _inflate(data, limit, 16 + zlib.MAX_WBITS)


def _deflate(data: bytes, limit: int) -> bytes:
    # HTTP "deflate" is zlib-wrapped, but many clients send raw deflate: accept both.
    try:
        return _inflate(data, limit, zlib.MAX_WBITS)
    except zlib.error:
        return _inflate(data, limit, -zlib.MAX_WBITS)


def _unbrotli(data: bytes, limit: int) -> bytes:
    decoder = brotli.Decompressor()
    out = bytearray(decoder.process(data, output_buffer_limit=_STEP))
    while not decoder.is_finished():
        if len(out) > limit:
            raise _too_large(limit)
        if decoder.can_accept_more_data():
            # All input was handed over and the stream is not finished: it is truncated.
            raise brotli.error("truncated stream")
        out += decoder.process(b"", output_buffer_limit=_STEP)
    if len(out) > limit:
        raise _too_large(limit)
    return bytes(out)


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _gunzip,
    "x-gzip": _gunzip,
    "deflate": _deflate,
    "br": _unbrotli,
}
