"""Incidents: open (affected components, severity), post updates, resolve, attach a post-mortem.

Each step can notify customers (kind "interruption" while it lasts, "follow_up" once resolved and
for the post-mortem); those kinds are critical, so they are always sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from app.errors import BadRequest, NotFound
from app.services import notifications
from app.services.status import COMPONENTS, SEVERITY_STATE, STATE_LABELS
from app.storage import ops_status
from app.storage.ops_status import Incident

if TYPE_CHECKING:
    from app.context import AppContext

SEVERITIES = tuple(SEVERITY_STATE)
STATUSES = ("investigating", "identified", "monitoring", "resolved")
OPEN_STATUSES = STATUSES[:-1]


def _text(value: str, name: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise BadRequest(f"{name} is required", field=name)
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters", field=name)
    return value


def components_of(names: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(name for name in COMPONENTS if name in set(names))
    unknown = set(names) - set(COMPONENTS)
    if unknown or not chosen:
        raise BadRequest("choose one or more of: " + ", ".join(COMPONENTS), field="components")
    return chosen


async def open_incident(
    ctx: AppContext, *, title: str, severity: str, components: Iterable[str], message: str, notify: bool
) -> Incident:
    if severity not in SEVERITIES:
        raise BadRequest("severity must be minor, major or critical", field="severity")
    chosen = components_of(components)
    incident_id = await ops_status.create_incident(
        ctx.db,
        title=_text(title, "title", 200),
        severity=severity,
        status="investigating",
        components=chosen,
        body=_text(message, "message", 10_000),
        now=int(time.time()),
    )
    incident = await get_incident(ctx, incident_id)
    ctx.ops.status.invalidate()
    if notify:
        await _notify(ctx, incident, "interruption", f"Service interruption: {incident.title}", message)
    return incident


async def get_incident(ctx: AppContext, incident_id: int) -> Incident:
    incident = await ops_status.get_incident(ctx.db, incident_id=incident_id)
    if incident is None:
        raise NotFound("no such incident")
    return incident


async def post_update(ctx: AppContext, incident_id: int, *, status: str, message: str, notify: bool) -> Incident:
    """Add a timeline entry; status "resolved" resolves the incident."""
    if status not in STATUSES:
        raise BadRequest("status must be one of: " + ", ".join(STATUSES), field="status")
    incident = await get_incident(ctx, incident_id)
    if not incident.is_active:
        raise BadRequest("this incident is resolved; attach a post-mortem instead", field="status")
    text = _text(message, "message", 10_000)
    await ops_status.add_update(ctx.db, incident_id=incident_id, status=status, body=text, now=int(time.time()))
    ctx.ops.status.invalidate()
    incident = await get_incident(ctx, incident_id)
    if notify:
        if status == "resolved":
            await _notify(ctx, incident, "follow_up", f"Resolved: {incident.title}", text)
        else:
            await _notify(ctx, incident, "interruption", f"Update ({status}): {incident.title}", text)
    return incident


async def attach_postmortem(ctx: AppContext, incident_id: int, *, text: str, notify: bool) -> Incident:
    incident = await get_incident(ctx, incident_id)
    if incident.is_active:
        raise BadRequest("resolve the incident before attaching its post-mortem", field="postmortem")
    body = _text(text, "postmortem", 100_000)
    await ops_status.set_postmortem(ctx.db, incident_id=incident_id, text=body, now=int(time.time()))
    ctx.ops.status.invalidate()
    incident = await get_incident(ctx, incident_id)
    if notify:
        await _notify(ctx, incident, "follow_up", f"Post-mortem: {incident.title}", body)
    return incident


async def _notify(ctx: AppContext, incident: Incident, kind: str, subject: str, message: str) -> int:
    affected = ", ".join(COMPONENTS[name] for name in incident.components)
    state = STATE_LABELS[SEVERITY_STATE[incident.severity]]
    url = f"{ctx.settings.public_url}/status/incidents/{incident.id}"
    body = f"{message}\n\nAffected: {affected} ({state.lower()}).\nStatus: {incident.status}.\nFollow it here: {url}"
    return await notifications.notify(ctx, kind=kind, subject=subject, body=body)
