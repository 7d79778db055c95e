"""The operations components, built once per process and attached to the AppContext as `ctx.ops`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.services.alerts import AlertService
from app.services.mailer import OutboxSender
from app.services.maintenance import ReminderTask
from app.services.notifications import QuotaWarnings
from app.services.status import StatusService

if TYPE_CHECKING:
    from app.context import AppContext


@dataclass
class Operations:
    sender: OutboxSender
    alerts: AlertService
    status: StatusService
    reminders: ReminderTask
    quota_warnings: QuotaWarnings


def build_operations(ctx: AppContext) -> Operations:
    """Construct the components and hook them into the context (components, listeners)."""
    ops = Operations(
        sender=OutboxSender(ctx.settings, ctx.db),
        alerts=AlertService(ctx),
        status=StatusService(ctx),
        reminders=ReminderTask(ctx),
        quota_warnings=QuotaWarnings(ctx),
    )
    ctx.components.extend([ops.sender, ops.alerts, ops.reminders])
    ctx.batch_listeners.extend([ops.alerts.on_batch, ops.quota_warnings.on_batch])
    ctx.resource_listeners.append(ops.alerts.forget_resource)
    return ops
