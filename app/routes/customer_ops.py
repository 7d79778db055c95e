"""The customer's side of operations on the dashboard: issue alerts and the support form.

Scoped by the session's resource (`require_customer`); every POST checks the CSRF token.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.context import get_context
from app.csrf import check_csrf
from app.errors import BadRequest
from app.services import alerts, support
from app.storage import ops_support
from dashboard.auth import require_customer
from dashboard.routes import page, render


def _fields(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str)}


@page
async def alerts_page(request: Request) -> Response:
    resource_id = require_customer(request)
    settings = await alerts.get_settings(get_context(request), resource_id)
    context = {"nav": "alerts", "alert": settings, "new_secret": None, "error": None, "saved": False}
    return render(request, "ops/alerts.html", context)


@page
async def alerts_save(request: Request) -> Response:
    resource_id = require_customer(request)
    form = await request.form()
    check_csrf(request, form)
    ctx = get_context(request)
    try:
        settings, new_secret = await alerts.save_settings(ctx, resource_id, _fields(form))
    except BadRequest as exc:
        current = await alerts.get_settings(ctx, resource_id)
        context = {"nav": "alerts", "alert": current, "new_secret": None, "error": exc.message, "saved": False}
        return render(request, "ops/alerts.html", context, status_code=400)
    context = {"nav": "alerts", "alert": settings, "new_secret": new_secret, "error": None, "saved": True}
    return render(request, "ops/alerts.html", context)


@page
async def alerts_rotate(request: Request) -> Response:
    resource_id = require_customer(request)
    check_csrf(request, await request.form())
    ctx = get_context(request)
    secret = await alerts.rotate_secret(ctx, resource_id)
    settings = await alerts.get_settings(ctx, resource_id)
    context = {"nav": "alerts", "alert": settings, "new_secret": secret, "error": None, "saved": True}
    return render(request, "ops/alerts.html", context)


@page
async def support_page(request: Request) -> Response:
    resource_id = require_customer(request)
    tickets = await ops_support.list_tickets(get_context(request).db, resource_id=resource_id)
    context = {"nav": "support", "tickets": tickets, "error": None, "created": request.query_params.get("created")}
    return render(request, "ops/support.html", context)


@page
async def support_create(request: Request) -> Response:
    resource_id = require_customer(request)
    form = await request.form()
    check_csrf(request, form)
    fields = _fields(form)
    ctx = get_context(request)
    email, app_name = request.session.get("email"), request.session.get("app")
    try:
        ticket = await support.open_ticket(
            ctx,
            resource_id=resource_id,
            email=email if isinstance(email, str) else "",
            app_name=app_name if isinstance(app_name, str) else "",
            subject=fields.get("subject", ""),
            body=fields.get("message", ""),
        )
    except BadRequest as exc:
        tickets = await ops_support.list_tickets(ctx.db, resource_id=resource_id)
        context = {"nav": "support", "tickets": tickets, "error": exc.message, "created": None}
        return render(request, "ops/support.html", context, status_code=400)
    return RedirectResponse(f"/dashboard/support?created={ticket.id}", status_code=303)


routes: list[BaseRoute] = [
    Route("/dashboard/alerts", alerts_page, methods=["GET"]),
    Route("/dashboard/alerts", alerts_save, methods=["POST"]),
    Route("/dashboard/alerts/secret", alerts_rotate, methods=["POST"]),
    Route("/dashboard/support", support_page, methods=["GET"]),
    Route("/dashboard/support", support_create, methods=["POST"]),
]
