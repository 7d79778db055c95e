"""Support tickets: opened from the dashboard, mailed to SUPPORT_EMAIL, answered in the console."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from app.errors import BadRequest, NotFound
from app.services import notifications
from app.storage import ops_customers, ops_support
from app.storage import resources as resource_store
from app.storage.ops_support import Ticket

if TYPE_CHECKING:
    from app.context import AppContext


def _field(value: str, name: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise BadRequest(f"{name} is required", field=name)
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters", field=name)
    return value


async def open_ticket(
    ctx: AppContext, *, resource_id: int, email: str, subject: str, body: str, app_name: str = ""
) -> Ticket:
    """`app_name`: the Heroku app of the SSO session (the resource's own name when empty)."""
    resource = await resource_store.get_by_id(ctx.db, resource_id=resource_id)
    if resource is None or not resource.is_active:
        raise NotFound("this add-on no longer exists")
    ticket = await ops_support.create_ticket(
        ctx.db,
        resource_id=resource_id,
        app_name=(app_name or resource.app_name)[:255],
        email=email.strip()[:320],
        subject=_field(subject, "subject", 200),
        body=_field(body, "message", 20_000),
        now=int(time.time()),
    )
    text = (
        f"Ticket #{ticket.id} from {ticket.email or 'an unknown address'}\n"
        f"Heroku app: {ticket.app_name or '-'}\nResource: {resource.id} ({resource.heroku_uuid}), plan {resource.plan}\n"
        f"Console: {ctx.settings.public_url}/admin/support/{ticket.id}\n\n{ticket.body}\n"
    )
    await notifications.send_email(
        ctx,
        to=ctx.settings.support_email,
        kind="support",
        subject=f"[Tracebin support #{ticket.id}] {ticket.subject}",
        body=text,
        resource_id=resource_id,
        reply_to=ticket.email or None,
    )
    return ticket


async def answer(ctx: AppContext, ticket_id: int, *, operator_id: int, text: str) -> Ticket:
    """Store the answer, mark the ticket solved and mail the answer to the customer."""
    body = _field(text, "answer", 20_000)
    ticket = await ops_support.answer_ticket(
        ctx.db, ticket_id=ticket_id, answer=body, operator_id=operator_id, now=int(time.time())
    )
    if ticket is None:
        raise NotFound("no such ticket")
    recipients = [ticket.email] if ticket.email else []
    if not recipients:
        recipients = [c.email for c in await ops_customers.active_contacts(ctx.db, resource_ids=[ticket.resource_id])]
    for to in recipients:
        await notifications.send_email(
            ctx,
            to=to,
            kind="support",
            subject=f"Re: [Tracebin support #{ticket.id}] {ticket.subject}",
            body=f"{body}\n\n> {ticket.body.replace(chr(10), chr(10) + '> ')}\n",
            resource_id=ticket.resource_id,
        )
    return ticket


async def get_ticket(ctx: AppContext, ticket_id: int) -> Ticket:
    ticket = await ops_support.get_ticket(ctx.db, ticket_id=ticket_id)
    if ticket is None:
        raise NotFound("no such ticket")
    return ticket
