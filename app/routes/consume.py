"""The consume path: POST /exceptions, POST /client-reports, POST /ping, GET /openapi.json."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app import openapi
from app.bodies import read_event_body
from app.context import get_context
from app.errors import BadRequest
from app.http import JSONResponse, parse_json, read_body
from app.memo import remember
from app.services import ingest, keys

MAX_REPORT = 64 * 1024
MAX_PING = 1024 * 1024


# Keys by Authorization header, for headers seen lately: an app sends the same one with every event.
# Bounded (cleared when full); see app.services.keys for why holding keys in memory is fine.
_KEYS: dict[bytes, str] = {}
MAX_KEYS = 4096
MAX_HEADER = 256  # a key's header is about 50 bytes; longer ones are decoded every time


def api_key(request: Request) -> str:
    """The key of `https://<key>@host/...`: the Basic-auth user part (or the password, if the user is empty)."""
    for name, value in request.scope["headers"]:  # one pass, no Headers object (hot path)
        if name == b"authorization":
            key = _KEYS.get(value)
            if key is None:
                key = _basic_key(value)
                if len(value) <= MAX_HEADER:
                    remember(_KEYS, value, key, MAX_KEYS)
            return key
    return ""


def _basic_key(header: bytes) -> str:
    scheme, _, encoded = header.partition(b" ")
    if scheme.lower() != b"basic":
        return ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    user, _, password = decoded.partition(":")
    return user or password


async def exceptions(request: Request) -> Response:
    ctx = get_context(request)
    resource = await keys.authenticate(ctx, api_key(request))
    event = parse_json(await read_event_body(request))
    if not isinstance(event, dict):
        raise BadRequest("the body must be a JSON object (an event)")
    event_id = await ingest.ingest_event(ctx, resource, event)
    return JSONResponse({"id": event_id}, status_code=202)


def _drops(body: Any) -> list[tuple[str, int]]:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    entries = body.get("discarded_events", [])
    if not isinstance(entries, list):
        raise BadRequest("'discarded_events' must be a list", field="discarded_events")
    drops = []
    for i, entry in enumerate(entries):
        field = f"discarded_events[{i}]"
        if not isinstance(entry, dict):
            raise BadRequest(f"'{field}' must be an object", field=field)
        reason, quantity = entry.get("reason"), entry.get("quantity")
        if not isinstance(reason, str):
            raise BadRequest(f"'{field}.reason' must be a string", field=f"{field}.reason")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise BadRequest(f"'{field}.quantity' must be an integer", field=f"{field}.quantity")
        drops.append((reason, quantity))
    return drops


async def client_reports(request: Request) -> Response:
    ctx = get_context(request)
    resource = await keys.authenticate(ctx, api_key(request))
    drops = _drops(parse_json(await read_event_body(request, MAX_REPORT)))
    await ingest.record_client_drops(ctx, resource, drops)
    return JSONResponse({}, status_code=202)


async def ping(request: Request) -> Response:
    """A bare JSON endpoint: the baseline the benchmarks compare POST /exceptions with."""
    parse_json(await read_body(request, MAX_PING))
    return JSONResponse({"ok": True})


async def openapi_document(request: Request) -> Response:
    return Response(openapi.DOCUMENT_JSON, media_type="application/json")


# The router has these too (so `/exceptions/` is redirected as before), but app.api_scope.ApiRoutes
# answers their exact paths first, past the router (see there why).
api_routes: list[Route] = [
    Route("/exceptions", exceptions, methods=["POST"]),
    Route("/client-reports", client_reports, methods=["POST"]),
    Route("/ping", ping, methods=["POST"]),
]
routes: list[BaseRoute] = [*api_routes, Route("/openapi.json", openapi_document, methods=["GET"])]
