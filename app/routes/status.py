"""The public status page (/status, /status.json, /status/incidents/{id}) and the opt-out links.

Neither touches the database directly: the status page reads through StatusService (cached, with
a short timeout), so it is still served while the database is down.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app.context import get_context
from app.errors import NotFound
from app.http import JSONResponse
from app.services import notifications
from app.services.status import COMPONENTS, STATE_LABELS, report_json
from dashboard.templating import templates

# Browsers and monitors may cache briefly; the data is at most CACHE_TTL seconds old anyway.
CACHE_HEADERS = {"Cache-Control": "public, max-age=10"}


async def status_page(request: Request) -> Response:
    ctx = get_context(request)
    report = await ctx.ops.status.report()
    context = {"report": report, "components": COMPONENTS, "state_labels": STATE_LABELS}
    return templates.TemplateResponse(request, "status/page.html", context, headers=CACHE_HEADERS)


async def status_json(request: Request) -> Response:
    ctx = get_context(request)
    report = await ctx.ops.status.report()
    body = report_json(report, ctx.settings.public_url)
    return JSONResponse(body, headers={**CACHE_HEADERS, "Access-Control-Allow-Origin": "*"})


async def incident_page(request: Request) -> Response:
    ctx = get_context(request)
    raw = str(request.path_params["incident_id"])
    await ctx.ops.status.report()
    incident = ctx.ops.status.find_incident(int(raw)) if raw.isdigit() else None
    if incident is None:
        raise NotFound("no such incident")
    context = {"incident": incident, "components": COMPONENTS}
    return templates.TemplateResponse(request, "status/incident.html", context, headers=CACHE_HEADERS)


async def optout_page(request: Request) -> Response:
    """GET only shows what the link does (mail scanners follow links); the POST acts."""
    ctx = get_context(request)
    token = str(request.path_params["token"])
    try:
        email, kind = notifications.read_optout_token(ctx.settings.session_secret, token)
    except NotFound:
        return _invalid_link(request)
    context = {"email": email, "kind": kind, "token": token, "done": False, "invalid": False}
    return templates.TemplateResponse(request, "ops/optout.html", context)


async def optout(request: Request) -> Response:
    """Record the opt-out at once. The signed token is the authorisation (no login, no CSRF token:
    RFC 8058 one-click POSTs from mail clients carry no session)."""
    ctx = get_context(request)
    token = str(request.path_params["token"])
    try:
        email, kind = await notifications.opt_out(ctx, token)
    except NotFound:
        return _invalid_link(request)
    context = {"email": email, "kind": kind, "token": token, "done": True, "invalid": False}
    return templates.TemplateResponse(request, "ops/optout.html", context)


def _invalid_link(request: Request) -> Response:
    context = {"email": "", "kind": None, "token": "", "done": False, "invalid": True}
    return templates.TemplateResponse(request, "ops/optout.html", context, status_code=404)


routes: list[BaseRoute] = [
    Route("/status", status_page, methods=["GET", "HEAD"]),
    Route("/status.json", status_json, methods=["GET", "HEAD"]),
    Route("/status/incidents/{incident_id}", incident_page, methods=["GET"]),
    Route("/optout/{token}", optout_page, methods=["GET"]),
    Route("/optout/{token}", optout, methods=["POST"]),
]
