"""The operator console at /admin: sign-in, resources and usage, incidents, maintenance,
notifications and support tickets. Only operator sessions get in; any other session (a customer's
SSO session included) is sent to the login page (GET) or refused with 403 (POST).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.context import get_context
from app.csrf import check_csrf, csrf_token
from app.errors import BadRequest, Forbidden, NotFound, RateLimited, Unauthorized
from app.services import incidents, maintenance, notifications, operators, support
from app.services.incidents import SEVERITIES, STATUSES
from app.services.notifications import KINDS
from app.services.status import COMPONENTS, STATE_LABELS
from app.storage import ops_customers, ops_outbox, ops_status, ops_support
from app.storage.ops_operators import Operator
from dashboard.auth import operator_id
from dashboard.templating import templates

Handler = Callable[[Request, Operator], Awaitable[Response]]
LOGIN_URL = "/admin/login"


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    base = {
        "csrf": csrf_token(request),
        "components": COMPONENTS,
        "state_labels": STATE_LABELS,
        "operator": None,
        "now": int(time.time()),
    }
    return templates.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code, headers=dict(headers or {})
    )


def console(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Operators only; CSRF on every POST; form errors re-rendered as a page."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        ctx = get_context(request)
        found = operator_id(request)
        operator = await operators.get_operator(ctx.db, found) if found is not None else None
        if operator is None:
            if request.method == "GET":
                return RedirectResponse(LOGIN_URL, status_code=303)
            raise Forbidden("operators only")
        try:
            if request.method == "POST":
                check_csrf(request, await request.form())
            return await handler(request, operator)
        except (BadRequest, NotFound) as exc:
            context = {"operator": operator, "message": exc.message, "back": request.headers.get("referer", "/admin")}
            return render(request, "admin/error.html", context, status_code=exc.status_code)

    return wrapper


def _path_int(request: Request, name: str) -> int:
    raw = str(request.path_params[name])
    if not raw.isdigit():
        raise NotFound("not found")
    return int(raw)


def _fields(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _month(now: int) -> int:
    tm = time.gmtime(now)
    return tm.tm_year * 100 + tm.tm_mon


# --- sign-in ---------------------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    return render(request, "admin/login.html", {"error": None})


async def login(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    fields = _fields(form)
    ctx = get_context(request)
    try:
        operator = await operators.authenticate(
            ctx.db,
            username=fields.get("username", ""),
            password=fields.get("password", ""),
            client_ip=_client_ip(request),
        )
    except RateLimited as exc:
        return render(request, "admin/login.html", {"error": exc.message}, status_code=429, headers=exc.headers)
    except Unauthorized as exc:
        return render(request, "admin/login.html", {"error": exc.message}, status_code=401)
    # A fresh session: no customer keys (resource_id, via, app, email) survive a console login.
    request.session.clear()
    request.session["operator_id"] = operator.id
    return RedirectResponse("/admin", status_code=303)


async def logout(request: Request) -> Response:
    check_csrf(request, await request.form())
    request.session.clear()
    return RedirectResponse(LOGIN_URL, status_code=303)


# --- overview and resources ------------------------------------------------------------------------


@console
async def overview(request: Request, operator: Operator) -> Response:
    ctx = get_context(request)
    now = int(time.time())
    context = {
        "operator": operator,
        "resources": await ops_customers.resource_usage(ctx.db, month=_month(now)),
        "incidents": await ops_status.list_incidents(ctx.db, active_only=True),
        "maintenance": await ops_status.list_maintenance(ctx.db, ending_after=now),
        "tickets": await ops_support.list_tickets(ctx.db, status="open"),
        "outbox": await ops_outbox.status_counts(ctx.db),
        "smtp": ctx.settings.smtp_url is not None,
        "report": await ctx.ops.status.report(),
        "alerts": ctx.ops.alerts,
    }
    return render(request, "admin/overview.html", context)


@console
async def resource_detail(request: Request, operator: Operator) -> Response:
    ctx = get_context(request)
    resource_id = _path_int(request, "resource_id")
    found = await ops_customers.resource_usage(ctx.db, month=_month(int(time.time())), resource_id=resource_id)
    if not found:
        raise NotFound("no such resource")
    context = {
        "operator": operator,
        "resource": found[0],
        "contacts": await ops_customers.active_contacts(ctx.db, resource_ids=[resource_id]),
        "messages": await ops_outbox.list_messages(ctx.db, resource_id=resource_id, limit=50),
        "tickets": await ops_support.list_tickets(ctx.db, resource_id=resource_id),
    }
    return render(request, "admin/resource.html", context)


# --- incidents -------------------------------------------------------------------------------------


@console
async def incident_list(request: Request, operator: Operator) -> Response:
    ctx = get_context(request)
    found = await ops_status.list_incidents(ctx.db, since=int(time.time()) - 90 * 86400)
    return render(request, "admin/incidents.html", {"operator": operator, "incidents": found, "severities": SEVERITIES})


@console
async def incident_create(request: Request, operator: Operator) -> Response:
    form = await request.form()
    fields = _fields(form)
    incident = await incidents.open_incident(
        get_context(request),
        title=fields.get("title", ""),
        severity=fields.get("severity", ""),
        components=[str(value) for value in form.getlist("components")],
        message=fields.get("message", ""),
        notify=fields.get("notify") == "on",
    )
    return RedirectResponse(f"/admin/incidents/{incident.id}", status_code=303)


@console
async def incident_detail(request: Request, operator: Operator) -> Response:
    incident = await incidents.get_incident(get_context(request), _path_int(request, "incident_id"))
    return render(request, "admin/incident.html", {"operator": operator, "incident": incident, "statuses": STATUSES})


@console
async def incident_update(request: Request, operator: Operator) -> Response:
    fields = _fields(await request.form())
    incident_id = _path_int(request, "incident_id")
    await incidents.post_update(
        get_context(request),
        incident_id,
        status=fields.get("status", ""),
        message=fields.get("message", ""),
        notify=fields.get("notify") == "on",
    )
    return RedirectResponse(f"/admin/incidents/{incident_id}", status_code=303)


@console
async def incident_postmortem(request: Request, operator: Operator) -> Response:
    fields = _fields(await request.form())
    incident_id = _path_int(request, "incident_id")
    await incidents.attach_postmortem(
        get_context(request), incident_id, text=fields.get("postmortem", ""), notify=fields.get("notify") == "on"
    )
    return RedirectResponse(f"/admin/incidents/{incident_id}", status_code=303)


# --- maintenance -----------------------------------------------------------------------------------


@console
async def maintenance_list(request: Request, operator: Operator) -> Response:
    found = await ops_status.list_maintenance(get_context(request).db, ending_after=int(time.time()))
    return render(request, "admin/maintenance.html", {"operator": operator, "windows": found})


@console
async def maintenance_create(request: Request, operator: Operator) -> Response:
    form = await request.form()
    fields = _fields(form)
    await maintenance.schedule(
        get_context(request),
        title=fields.get("title", ""),
        description=fields.get("description", ""),
        components=[str(value) for value in form.getlist("components")],
        starts_at=maintenance.parse_utc(fields.get("starts_at", ""), "starts_at"),
        ends_at=maintenance.parse_utc(fields.get("ends_at", ""), "ends_at"),
        emergency=fields.get("emergency") == "on",
        reason=fields.get("reason", ""),
    )
    return RedirectResponse("/admin/maintenance", status_code=303)


@console
async def maintenance_cancel(request: Request, operator: Operator) -> Response:
    fields = _fields(await request.form())
    await maintenance.cancel(
        get_context(request), _path_int(request, "maintenance_id"), notify=fields.get("notify") == "on"
    )
    return RedirectResponse("/admin/maintenance", status_code=303)


# --- notifications ---------------------------------------------------------------------------------


@console
async def notification_page(request: Request, operator: Operator) -> Response:
    ctx = get_context(request)
    context = {
        "operator": operator,
        "kinds": KINDS,
        "messages": await ops_outbox.list_messages(ctx.db, limit=100),
        "sent": request.query_params.get("sent"),
        "smtp": ctx.settings.smtp_url is not None,
    }
    return render(request, "admin/notifications.html", context)


@console
async def notification_send(request: Request, operator: Operator) -> Response:
    fields = _fields(await request.form())
    subject, body = fields.get("subject", "").strip(), fields.get("body", "").strip()
    if not subject or not body or len(subject) > 200:
        raise BadRequest("a subject (at most 200 characters) and a message are required", field="subject")
    queued = await notifications.notify(get_context(request), kind=fields.get("kind", ""), subject=subject, body=body)
    return RedirectResponse(f"/admin/notifications?sent={queued}", status_code=303)


# --- support ---------------------------------------------------------------------------------------


@console
async def ticket_list(request: Request, operator: Operator) -> Response:
    status = request.query_params.get("status", "open")
    found = await ops_support.list_tickets(get_context(request).db, status=status if status != "all" else None)
    return render(request, "admin/tickets.html", {"operator": operator, "tickets": found, "status": status})


@console
async def ticket_detail(request: Request, operator: Operator) -> Response:
    ticket = await support.get_ticket(get_context(request), _path_int(request, "ticket_id"))
    return render(request, "admin/ticket.html", {"operator": operator, "ticket": ticket})


@console
async def ticket_answer(request: Request, operator: Operator) -> Response:
    fields = _fields(await request.form())
    ticket_id = _path_int(request, "ticket_id")
    await support.answer(get_context(request), ticket_id, operator_id=operator.id, text=fields.get("answer", ""))
    return RedirectResponse(f"/admin/support/{ticket_id}", status_code=303)


routes: list[BaseRoute] = [
    Route("/admin/login", login_page, methods=["GET"]),
    Route("/admin/login", login, methods=["POST"]),
    Route("/admin/logout", logout, methods=["POST"]),
    Route("/admin", overview, methods=["GET"]),
    Route("/admin/resources/{resource_id}", resource_detail, methods=["GET"]),
    Route("/admin/incidents", incident_list, methods=["GET"]),
    Route("/admin/incidents", incident_create, methods=["POST"]),
    Route("/admin/incidents/{incident_id}", incident_detail, methods=["GET"]),
    Route("/admin/incidents/{incident_id}/updates", incident_update, methods=["POST"]),
    Route("/admin/incidents/{incident_id}/postmortem", incident_postmortem, methods=["POST"]),
    Route("/admin/maintenance", maintenance_list, methods=["GET"]),
    Route("/admin/maintenance", maintenance_create, methods=["POST"]),
    Route("/admin/maintenance/{maintenance_id}/cancel", maintenance_cancel, methods=["POST"]),
    Route("/admin/notifications", notification_page, methods=["GET"]),
    Route("/admin/notifications", notification_send, methods=["POST"]),
    Route("/admin/support", ticket_list, methods=["GET"]),
    Route("/admin/support/{ticket_id}", ticket_detail, methods=["GET"]),
    Route("/admin/support/{ticket_id}/answer", ticket_answer, methods=["POST"]),
]
