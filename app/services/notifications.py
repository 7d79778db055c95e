"""Customer notifications: who gets which kind of mail, opt-outs, and the automatic quota warnings.

Mail goes to the contacts of each resource (addresses seen in SSO logins; never logins). Critical
kinds are always sent. Non-critical kinds (feature updates, surveys) carry a one-click opt-out
link: a token signed with SESSION_SECRET naming the address and the kind, no login needed. The
link's GET shows a confirmation page; its POST (also sent by mail clients that honour RFC 8058
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`) records the opt-out at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeSerializer

from app.errors import BadRequest, NotFound
from app.services import mailer
from app.storage import ops_customers, ops_outbox
from app.storage.ops_outbox import NewMessage

if TYPE_CHECKING:
    from app.context import AppContext, IssueActivity, UsageActivity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    critical: bool


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("maintenance", "Scheduled maintenance", True),
        Kind("interruption", "Service interruption", True),
        Kind("follow_up", "Interruption follow-up", True),
        Kind("overage", "Plan usage", True),
        Kind("terms", "Terms of service", True),
        Kind("feature_update", "Feature update", False),
        Kind("survey", "Survey", False),
    )
}
OPTOUT_SALT = "tracebin-optout"


def get_kind(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise BadRequest(f"unknown notification kind {name!r}", field="kind")
    return kind


def optout_token(secret: str, email: str, kind: str) -> str:
    return URLSafeSerializer(secret, salt=OPTOUT_SALT).dumps([email, kind])


def read_optout_token(secret: str, token: str) -> tuple[str, Kind]:
    try:
        email, kind = URLSafeSerializer(secret, salt=OPTOUT_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise NotFound("this opt-out link is not valid") from None
    found = KINDS.get(kind) if isinstance(kind, str) else None
    if not isinstance(email, str) or found is None or found.critical:
        raise NotFound("this opt-out link is not valid")
    return email, found


async def opt_out(ctx: AppContext, token: str) -> tuple[str, Kind]:
    email, kind = read_optout_token(ctx.settings.session_secret, token)
    await ops_outbox.add_optout(ctx.db, email=email, kind=kind.name, now=int(time.time()))
    log.info("opt-out recorded: %s from %s", email, kind.name)
    return email, kind


def _footer(ctx: AppContext) -> str:
    s = ctx.settings
    return f"\n\n--\nTracebin · support: {s.support_email} · service status: {s.public_url}/status\n"


async def notify(
    ctx: AppContext, *, kind: str, subject: str, body: str, resource_ids: Sequence[int] | None = None
) -> int:
    """Queue one mail per contact address of the given resources (all active ones when None).

    Returns the number of messages queued (opted-out addresses are skipped for non-critical kinds).
    """
    found = get_kind(kind)
    contacts = await ops_customers.active_contacts(
        ctx.db, resource_ids=None if resource_ids is None else list(resource_ids)
    )
    apps: dict[str, list[str]] = {}
    first_resource: dict[str, int] = {}
    for contact in contacts:
        apps.setdefault(contact.email, []).append(contact.app_name or f"resource {contact.resource_id}")
        first_resource.setdefault(contact.email, contact.resource_id)
    skipped: set[str] = set()
    if not found.critical:
        skipped = await ops_outbox.opted_out(ctx.db, emails=list(apps), kind=kind)
    messages = []
    for email, names in apps.items():
        if email in skipped:
            continue
        text = f"{body}\n\nYou receive this as a contact of {', '.join(sorted(set(names)))} on Tracebin."
        headers: dict[str, str] = {"Reply-To": ctx.settings.support_email}
        if not found.critical:
            url = f"{ctx.settings.public_url}/optout/{optout_token(ctx.settings.session_secret, email, kind)}"
            text += f"\nStop receiving {found.label.lower()} mail: {url}"
            headers["List-Unsubscribe"] = f"<{url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        messages.append(
            NewMessage(
                channel="email",
                kind=kind,
                recipient=email,
                subject=f"[Tracebin] {subject}",
                body=text + _footer(ctx),
                headers=headers,
                resource_id=first_resource[email] if resource_ids is not None and len(resource_ids) == 1 else None,
            )
        )
    await queue(ctx, messages)
    return len(messages)


async def send_email(
    ctx: AppContext,
    *,
    to: str,
    kind: str,
    subject: str,
    body: str,
    resource_id: int | None = None,
    reply_to: str | None = None,
) -> None:
    """One mail to one address (support tickets, alerts): always sent, no opt-out."""
    headers = {"Reply-To": reply_to or ctx.settings.support_email}
    message = NewMessage("email", kind, to, subject, body + _footer(ctx), headers, resource_id)
    await queue(ctx, [message])


async def queue(ctx: AppContext, messages: Sequence[NewMessage]) -> None:
    if messages:
        await mailer.enqueue(ctx.db, ctx.settings, messages)
        ctx.ops.sender.wake()


def _month_of(now: int) -> int:
    tm = time.gmtime(now)
    return tm.tm_year * 100 + tm.tm_mon


class QuotaWarnings:
    """Mails the contacts of a resource once at 80 % and once at 100 % of its monthly quota.

    The usage_monthly.warned_80 / warned_100 flags are flipped by a conditional UPDATE, so two
    processes that see the same batch totals never both send.
    """

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        # (resource, month, level) already settled here: later batches skip the database.
        self._settled: set[tuple[int, int, int]] = set()

    async def on_batch(self, issues: Sequence[IssueActivity], usage: Sequence[UsageActivity]) -> None:
        for activity in usage:
            if activity.quota <= 0 or activity.events * 5 < activity.quota * 4:
                continue
            try:
                await self.check(activity.resource_id, activity.month, activity.events, activity.quota)
            except Exception:
                log.exception("quota warning for resource %d failed", activity.resource_id)

    async def check(self, resource_id: int, month: int, events: int, quota: int) -> None:
        target = 100 if events >= quota else 80
        if (resource_id, month, target) in self._settled:
            return
        if len(self._settled) > 100_000:
            self._settled.clear()
        self._settled.update({(resource_id, month, target), (resource_id, month, 80)})
        db = self.ctx.db
        level = 0
        if events >= quota and await ops_customers.claim_quota_warning(
            db, resource_id=resource_id, month=month, level=100
        ):
            level = 100
            # Past 100 % the 80 % warning says nothing new: mark it sent too.
            await ops_customers.claim_quota_warning(db, resource_id=resource_id, month=month, level=80)
        elif await ops_customers.claim_quota_warning(db, resource_id=resource_id, month=month, level=80):
            level = 80
        if level:
            await notify(
                self.ctx, kind="overage", resource_ids=[resource_id], **self._text(level, events, quota, resource_id)
            )

    def _text(self, level: int, events: int, quota: int, resource_id: int) -> dict[str, str]:
        dashboard = f"{self.ctx.settings.public_url}/dashboard"
        if level == 100:
            subject = "You have used 100 % of this month's events"
            detail = (
                "New events are now refused (HTTP 429) until the month ends, except the first event of every "
                "new issue and one event per issue per hour, so you are never blind."
            )
        else:
            subject = "You have used 80 % of this month's events"
            detail = "When the quota is reached, new events are refused until the month ends."
        body = (
            f"Your Tracebin add-on has received {events:,} of its {quota:,} events this month.\n{detail}\n"
            f"Upgrade the plan from the Heroku dashboard to raise the quota. Usage: {dashboard}"
        )
        return {"subject": subject, "body": body}
