"""Sentry-compatible ingestion: POST /api/{project_number}/envelope/ and /store/ (PROTOCOL.md §3).

Any Sentry SDK with TRACEBIN_URL as its DSN posts here. Replies are shaped as SDKs expect: 200
{"id"}, 4xx with a JSON message and `X-Sentry-Error`, 429 with `Retry-After` and
`X-Sentry-Rate-Limits`. Browser SDKs post cross-origin without credentials, so every reply (errors
too, so the SDK can read its rate limits) carries CORS headers and preflights are answered here.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app.bodies import read_event_body
from app.context import get_context
from app.errors import RateLimited, TracebinError
from app.http import JSONResponse, basic_auth, error_body, parse_json
from app.services import sentry_ingest
from app.services.sentry_envelope import parse_envelope

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "x-sentry-error, x-sentry-rate-limits, retry-after",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": (
        "content-type, content-encoding, x-sentry-auth, authorization, x-requested-with, sentry-trace, baggage"
    ),
    "Access-Control-Max-Age": "86400",
}


def _request_key(request: Request) -> str:
    """The key from X-Sentry-Auth, `Authorization: Sentry ...`, ?sentry_key= or Basic auth ('' if none)."""
    for header in ("x-sentry-auth", "authorization"):
        key = sentry_ingest.key_from_auth_header(request.headers.get(header, ""))
        if key:
            return key
    query_key = request.query_params.get("sentry_key", "")
    if query_key:
        return query_key
    credentials = basic_auth(request)
    return credentials[0] if credentials else ""


def _ok(event_id: str | None) -> Response:
    return JSONResponse({"id": event_id} if event_id else {}, headers=CORS_HEADERS)


def _error(exc: TracebinError) -> Response:
    headers = {**CORS_HEADERS, **(exc.headers or {}), "X-Sentry-Error": _header_safe(exc.message)}
    if isinstance(exc, RateLimited):
        # No categories: the SDK holds back everything for that long (Sentry's quota answer).
        headers.setdefault("X-Sentry-Rate-Limits", f"{exc.retry_after}::organization:quota_exceeded")
    return JSONResponse(error_body(exc.message, exc.field), status_code=exc.status_code, headers=headers)


def _header_safe(text: str) -> str:
    return " ".join(text.encode("ascii", "replace").decode().split())[:200]


async def envelope(request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=200, headers=PREFLIGHT_HEADERS)
    ctx = get_context(request)
    project_number: int = request.path_params["project_number"]
    try:
        key = _request_key(request)
        # A key outside the body is checked before the body is read and decompressed.
        resource = await sentry_ingest.authorize(ctx, key, project_number) if key else None
        parsed = parse_envelope(await read_event_body(request))
        if resource is None:
            dsn_key = sentry_ingest.key_from_dsn(parsed.headers.get("dsn"))
            resource = await sentry_ingest.authorize(ctx, dsn_key, project_number)
        return _ok(await sentry_ingest.ingest_envelope(ctx, resource, parsed))
    except TracebinError as exc:
        return _error(exc)


async def store(request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=200, headers=PREFLIGHT_HEADERS)
    ctx = get_context(request)
    project_number: int = request.path_params["project_number"]
    try:
        resource = await sentry_ingest.authorize(ctx, _request_key(request), project_number)
        event = parse_json(await read_event_body(request))
        return _ok(await sentry_ingest.ingest_store(ctx, resource, event))
    except TracebinError as exc:
        return _error(exc)


routes: list[BaseRoute] = [
    Route(path, endpoint, methods=["POST", "OPTIONS"])
    for name, endpoint in (("envelope", envelope), ("store", store))
    for path in (f"/api/{{project_number:int}}/{name}/", f"/api/{{project_number:int}}/{name}")
]
