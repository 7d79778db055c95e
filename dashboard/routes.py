"""Dashboard routes: issue list, issue detail, events, usage and setup (HTML, with JSON twins).

A page answers JSON instead of HTML when the request's Accept header asks for application/json
(and not text/html). Every handler scopes its reads and writes by the session's resource id.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.context import get_context
from app.csrf import check_csrf, csrf_token
from app.errors import BadRequest, NotFound, TracebinError
from app.http import JSONResponse, error_body
from app.services import issues, usage
from app.storage import resources
from dashboard.auth import is_heroku_session, require_customer
from dashboard.charts import bars, spark_path
from dashboard.filters import day, hour
from dashboard.security import BOOMERANG_SCRIPT
from dashboard.templating import STATIC_DIR, templates
from dashboard.views import event_view

Handler = Callable[[Request], Awaitable[Response]]
MAX_FORM_FIELDS = 600


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def render(request: Request, template: str, context: Mapping[str, Any], status_code: int = 200) -> Response:
    ctx = get_context(request)
    heroku = is_heroku_session(request)
    return templates.TemplateResponse(
        request,
        template,
        {
            "support_email": ctx.settings.support_email,
            "heroku_session": heroku,
            "heroku_app": str(request.session.get("app", "")) if heroku else "",
            "boomerang_script": BOOMERANG_SCRIPT,
            "csrf": csrf_token(request),
            **context,
        },
        status_code=status_code,
    )


def page(handler: Handler) -> Handler:
    """HTML error pages for browsers (401 explains how to sign in), JSON errors for scripts."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except TracebinError as exc:
            if wants_json(request) or (
                request.method != "GET" and "text/html" not in request.headers.get("accept", "")
            ):
                return JSONResponse(error_body(exc.message, exc.field), status_code=exc.status_code)
            return render(
                request, "dashboard/error.html", {"status": exc.status_code, "message": exc.message}, exc.status_code
            )

    return wrapper


def _int_param(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise BadRequest(f"'{name}' must be a positive integer", field=name)
    return int(raw)


def _path_id(request: Request) -> int:
    raw = str(request.path_params["issue_id"])
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound("no such issue")
    return int(raw)


def _safe_next(raw: str | None, default: str) -> str:
    """Only a local dashboard path: never an open redirect."""
    if not raw:
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not parts.path.startswith("/dashboard") or raw.startswith("//"):
        return default
    return raw


def _list_url(params: Mapping[str, str], **changes: str | None) -> str:
    merged = {key: value for key, value in params.items() if value}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return "/dashboard" + ("?" + urlencode(merged) if merged else "")


@page
async def issue_list(request: Request) -> Response:
    resource_id = require_customer(request)
    query = issues.parse_query(request.query_params)
    result = await issues.list_page(get_context(request).db, resource_id=resource_id, query=query)
    if wants_json(request):
        return JSONResponse(
            {
                "issues": [
                    {**issue.__dict__, "last_24h": result.sparklines[issue.id], "url": f"/dashboard/issues/{issue.id}"}
                    for issue in result.issues
                ],
                "total": result.total,
                "status_counts": result.status_counts,
                "next": _list_url(request.query_params, after=result.next_cursor) if result.next_cursor else None,
            }
        )
    params = dict(request.query_params)
    return render(
        request,
        "dashboard/issues.html",
        {
            "page": result,
            "params": params,
            "sparks": {
                issue_id: spark_path(counts, width=72, height=18) for issue_id, counts in result.sparklines.items()
            },
            "status_url": {
                status: _list_url(params, status=status, after=None)
                for status in ("unresolved", "resolved", "ignored", "all")
            },
            "next_url": _list_url(params, after=result.next_cursor) if result.next_cursor else None,
            "first_url": _list_url(params, after=None) if query.after else None,
            "here": _list_url(params),
            "levels": issues.LEVELS,
            "sorts": (("last_seen", "Last seen"), ("first_seen", "First seen"), ("count", "Events")),
        },
    )


@page
async def issue_detail(request: Request) -> Response:
    resource_id = require_customer(request)
    event_row_id = _int_param(request.query_params.get("event"), "event")
    result = await issues.detail(
        get_context(request).db, resource_id=resource_id, issue_id=_path_id(request), event_row_id=event_row_id
    )
    event = result.event
    if wants_json(request):
        return JSONResponse(
            {
                "issue": result.issue,
                "event": {**event.__dict__, "payload": result.payload} if event else None,
                "last_24h": [{"hour": h * 3600, "count": c} for h, c in result.hourly],
                "last_30d": [{"day": d * 86400, "count": c} for d, c in result.daily],
                "environments": result.facets.get("environment", []),
                "releases": result.facets.get("release", []),
                "older_event": result.older_event,
                "newer_event": result.newer_event,
            }
        )
    return render(
        request,
        "dashboard/issue.html",
        {
            "detail": result,
            "issue": result.issue,
            "event": event,
            "view": event_view(result.payload),
            "hourly": bars(
                [c for _, c in result.hourly], width=480, height=80, labels=[hour(h) for h, _ in result.hourly]
            ),
            "daily": bars([c for _, c in result.daily], width=480, height=80, labels=[day(d) for d, _ in result.daily]),
        },
    )


@page
async def issue_events(request: Request) -> Response:
    resource_id = require_customer(request)
    before = _int_param(request.query_params.get("before"), "before")
    issue_id = _path_id(request)
    result = await issues.events_page(
        get_context(request).db, resource_id=resource_id, issue_id=issue_id, before=before
    )
    next_url = f"/dashboard/issues/{issue_id}/events?before={result.next_before}" if result.next_before else None
    if wants_json(request):
        return JSONResponse({"issue": result.issue, "events": result.events, "next": next_url})
    return render(request, "dashboard/events.html", {"result": result, "issue": result.issue, "next_url": next_url})


async def _form(request: Request) -> tuple[dict[str, str], list[str]]:
    async with request.form(max_fields=MAX_FORM_FIELDS, max_files=0) as form:
        check_csrf(request, form)
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        ids = [value for value in form.getlist("ids") if isinstance(value, str)]
    return fields, ids


@page
async def bulk_action(request: Request) -> Response:
    resource_id = require_customer(request)
    fields, ids = await _form(request)
    changed = await issues.set_status(
        get_context(request).db,
        resource_id=resource_id,
        issue_ids=issues.parse_ids(ids),
        action=fields.get("action", ""),
    )
    if wants_json(request):
        return JSONResponse({"changed": changed})
    return RedirectResponse(_safe_next(fields.get("next"), "/dashboard"), status_code=303)


@page
async def issue_action(request: Request) -> Response:
    resource_id = require_customer(request)
    issue_id = _path_id(request)
    fields, _ = await _form(request)
    changed = await issues.set_status(
        get_context(request).db, resource_id=resource_id, issue_ids=[issue_id], action=fields.get("action", "")
    )
    if wants_json(request):
        return JSONResponse({"changed": changed})
    return RedirectResponse(f"/dashboard/issues/{issue_id}", status_code=303)


@page
async def usage_page(request: Request) -> Response:
    resource_id = require_customer(request)
    ctx = get_context(request)
    resource = await resources.get_by_id(ctx.db, resource_id=resource_id)
    if resource is None or not resource.is_active:
        raise NotFound("this add-on was removed")
    report = await usage.report(ctx.db, resource, now=int(time.time()))
    if wants_json(request):
        return JSONResponse(
            {
                "plan": report.plan,
                "month": report.month,
                "events": report.events,
                "quota": report.plan.events_per_month,
                "projected": report.projected,
                "percent": report.percent,
                "dropped_by_quota": report.dropped_by_quota,
                "dropped_by_clients": report.dropped_by_clients,
                "drops": report.drops,
                "retention_days": report.plan.retention_days,
            }
        )
    public = urlsplit(ctx.settings.public_url)
    return render(
        request,
        "dashboard/usage.html",
        {
            "report": report,
            "resource": resource,
            "daily": bars([c for _, c in report.daily], width=480, height=80, labels=[day(d) for d, _ in report.daily]),
            "public_host": public.netloc,
            "public_scheme": public.scheme,
        },
    )


routes: list[BaseRoute] = [
    Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
    Route("/dashboard", issue_list, methods=["GET"]),
    Route("/dashboard/issues/bulk", bulk_action, methods=["POST"]),
    Route("/dashboard/issues/{issue_id}", issue_detail, methods=["GET"]),
    Route("/dashboard/issues/{issue_id}/events", issue_events, methods=["GET"]),
    Route("/dashboard/issues/{issue_id}/status", issue_action, methods=["POST"]),
    Route("/dashboard/usage", usage_page, methods=["GET"]),
]
