"""Scheduled maintenance: announced at least 24 hours ahead (unless an emergency with a reason),
customers notified when it is scheduled and reminded before it starts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from app.errors import BadRequest, NotFound
from app.services import notifications
from app.services.incidents import components_of
from app.services.ops_tasks import BackgroundLoop
from app.services.status import COMPONENTS, time_text
from app.storage import ops_status
from app.storage.ops_status import Maintenance

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

MIN_NOTICE = 24 * 3600
REMINDER_LEAD = 3600  # the reminder goes out this long before the start
MAX_DURATION = 7 * 86400


def parse_utc(value: str, name: str) -> int:
    """A form's "YYYY-MM-DDTHH:MM" (datetime-local, read as UTC) or an ISO 8601 time, as Unix seconds."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"{name} must be a date and time such as 2030-01-31T22:00 (UTC)", field=name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


async def schedule(
    ctx: AppContext,
    *,
    title: str,
    description: str,
    components: Iterable[str],
    starts_at: int,
    ends_at: int,
    emergency: bool = False,
    reason: str = "",
    now: int | None = None,
) -> Maintenance:
    now = int(time.time()) if now is None else now
    title, reason = title.strip(), reason.strip()
    if not title or len(title) > 200:
        raise BadRequest("a title of at most 200 characters is required", field="title")
    if ends_at <= starts_at or ends_at - starts_at > MAX_DURATION:
        raise BadRequest("the window must end after it starts and last at most 7 days", field="ends_at")
    if starts_at < now - 60:
        raise BadRequest("maintenance cannot start in the past", field="starts_at")
    if starts_at < now + MIN_NOTICE:
        if not emergency:
            raise BadRequest(
                "maintenance must be scheduled at least 24 hours ahead; mark it as an emergency and give a reason",
                field="starts_at",
            )
        if not reason:
            raise BadRequest("emergency maintenance needs a reason", field="reason")
    window = await ops_status.create_maintenance(
        ctx.db,
        title=title,
        description=description.strip()[:10_000],
        components=components_of(components),
        starts_at=starts_at,
        ends_at=ends_at,
        emergency=emergency,
        reason=reason[:2000],
        now=now,
        # Starting within the reminder lead: the announcement is the reminder.
        reminded_at=now if starts_at - now <= REMINDER_LEAD else None,
    )
    ctx.ops.status.invalidate()
    await _notify(ctx, window, reminder=False)
    return window


async def cancel(ctx: AppContext, maintenance_id: int, *, notify: bool) -> None:
    window = await ops_status.get_maintenance(ctx.db, maintenance_id=maintenance_id)
    if window is None or not await ops_status.cancel_maintenance(
        ctx.db, maintenance_id=maintenance_id, now=int(time.time())
    ):
        raise NotFound("no such scheduled maintenance")
    ctx.ops.status.invalidate()
    if notify:
        body = f"The maintenance {window.title!r} planned for {time_text(window.starts_at)} is cancelled."
        await notifications.notify(ctx, kind="maintenance", subject=f"Cancelled: {window.title}", body=body)


async def send_due_reminders(ctx: AppContext, *, now: int | None = None) -> int:
    now = int(time.time()) if now is None else now
    due = await ops_status.claim_due_reminders(ctx.db, now=now, lead_seconds=REMINDER_LEAD)
    for window in due:
        await _notify(ctx, window, reminder=True)
    return len(due)


async def _notify(ctx: AppContext, window: Maintenance, *, reminder: bool) -> int:
    affected = ", ".join(COMPONENTS[name] for name in window.components)
    when = f"from {time_text(window.starts_at)} to {time_text(window.ends_at)}"
    prefix = (
        "Reminder: " if reminder else ("Emergency maintenance: " if window.emergency else "Scheduled maintenance: ")
    )
    lines = [f"{window.title} — {when}.", f"Affected: {affected}."]
    if window.description:
        lines.append(window.description)
    if window.emergency and window.reason:
        lines.append(f"Why it cannot wait: {window.reason}")
    lines.append(f"Status page: {ctx.settings.public_url}/status")
    return await notifications.notify(ctx, kind="maintenance", subject=prefix + window.title, body="\n".join(lines))


async def get(ctx: AppContext, maintenance_id: int) -> Maintenance:
    window = await ops_status.get_maintenance(ctx.db, maintenance_id=maintenance_id)
    if window is None:
        raise NotFound("no such scheduled maintenance")
    return window


class ReminderTask(BackgroundLoop):
    """The periodic in-process task that sends maintenance reminders (claimed once across processes)."""

    name = "maintenance-reminders"

    def __init__(self, ctx: AppContext, *, interval: float = 60.0) -> None:
        super().__init__(interval=interval)
        self.ctx = ctx

    async def tick(self) -> None:
        await send_due_reminders(self.ctx)
