"""Incidents, their updates, and scheduled maintenance (the status page's operator-entered state)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.ops_tables import incident_updates, incidents, maintenance


@dataclass(frozen=True)
class IncidentUpdate:
    id: int
    incident_id: int
    status: str
    body: str
    created_at: int


@dataclass(frozen=True)
class Incident:
    id: int
    title: str
    severity: str
    status: str
    components: tuple[str, ...]
    created_at: int
    resolved_at: int | None
    postmortem: str | None
    postmortem_at: int | None
    updates: tuple[IncidentUpdate, ...] = ()

    @property
    def is_active(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True)
class Maintenance:
    id: int
    title: str
    description: str
    components: tuple[str, ...]
    starts_at: int
    ends_at: int
    emergency: bool
    reason: str
    created_at: int
    reminded_at: int | None
    cancelled_at: int | None


def _split(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.split(",") if part)


def _incident(row: Mapping[str, Any], updates: tuple[IncidentUpdate, ...] = ()) -> Incident:
    values = {name: row[name] for name in Incident.__dataclass_fields__ if name not in {"components", "updates"}}
    return Incident(components=_split(row["components"]), updates=updates, **values)


def _update(row: Mapping[str, Any]) -> IncidentUpdate:
    return IncidentUpdate(**{name: row[name] for name in IncidentUpdate.__dataclass_fields__})


def _maintenance(row: Mapping[str, Any]) -> Maintenance:
    values = {name: row[name] for name in Maintenance.__dataclass_fields__ if name != "components"}
    values["emergency"] = bool(values["emergency"])
    return Maintenance(components=_split(row["components"]), **values)


async def create_incident(
    db: Database, *, title: str, severity: str, status: str, components: tuple[str, ...], body: str, now: int
) -> int:
    async with db.transaction() as conn:
        incident_id = await conn.fetch_val(
            sa.insert(incidents)
            .values(title=title, severity=severity, status=status, components=",".join(components), created_at=now)
            .returning(incidents.c.id)
        )
        await conn.execute(
            sa.insert(incident_updates).values(incident_id=incident_id, status=status, body=body, created_at=now)
        )
    return int(incident_id)


async def add_update(db: Database, *, incident_id: int, status: str, body: str, now: int) -> None:
    values: dict[str, Any] = {"status": status}
    if status == "resolved":
        values["resolved_at"] = now
    async with db.transaction() as conn:
        await conn.execute(sa.update(incidents).where(incidents.c.id == incident_id).values(**values))
        await conn.execute(
            sa.insert(incident_updates).values(incident_id=incident_id, status=status, body=body, created_at=now)
        )


async def set_postmortem(db: Database, *, incident_id: int, text: str, now: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            sa.update(incidents).where(incidents.c.id == incident_id).values(postmortem=text, postmortem_at=now)
        )


async def _with_updates(db: Database, rows: list[Mapping[str, Any]]) -> list[Incident]:
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    query = (
        sa.select(incident_updates)
        .where(incident_updates.c.incident_id.in_(ids))
        .order_by(incident_updates.c.created_at.desc(), incident_updates.c.id.desc())
    )
    async with db.connection() as conn:
        update_rows = await conn.fetch_all(query)
    by_incident: dict[int, list[IncidentUpdate]] = {}
    for row in update_rows:
        update = _update(row._mapping)
        by_incident.setdefault(update.incident_id, []).append(update)
    return [_incident(row, tuple(by_incident.get(row["id"], []))) for row in rows]


async def get_incident(db: Database, *, incident_id: int) -> Incident | None:
    async with db.connection() as conn:
        row = await conn.fetch_one(sa.select(incidents).where(incidents.c.id == incident_id))
    if row is None:
        return None
    return (await _with_updates(db, [row._mapping]))[0]


async def list_incidents(db: Database, *, since: int | None = None, active_only: bool = False) -> list[Incident]:
    """Incidents newest first: the active ones, and every one created (or still open) since `since`."""
    query = sa.select(incidents).order_by(incidents.c.created_at.desc(), incidents.c.id.desc())
    if active_only:
        query = query.where(incidents.c.status != "resolved")
    elif since is not None:
        query = query.where(sa.or_(incidents.c.created_at >= since, incidents.c.resolved_at.is_(None)))
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return await _with_updates(db, [row._mapping for row in rows])


async def create_maintenance(
    db: Database,
    *,
    title: str,
    description: str,
    components: tuple[str, ...],
    starts_at: int,
    ends_at: int,
    emergency: bool,
    reason: str,
    now: int,
    reminded_at: int | None = None,
) -> Maintenance:
    values = {
        "title": title,
        "description": description,
        "components": ",".join(components),
        "starts_at": starts_at,
        "ends_at": ends_at,
        "emergency": emergency,
        "reason": reason,
        "created_at": now,
        "reminded_at": reminded_at,
    }
    async with db.transaction() as conn:
        row = await conn.fetch_one(sa.insert(maintenance).values(**values).returning(*maintenance.c))
    assert row is not None
    return _maintenance(row._mapping)


async def get_maintenance(db: Database, *, maintenance_id: int) -> Maintenance | None:
    async with db.connection() as conn:
        row = await conn.fetch_one(sa.select(maintenance).where(maintenance.c.id == maintenance_id))
    return _maintenance(row._mapping) if row else None


async def list_maintenance(db: Database, *, ending_after: int) -> list[Maintenance]:
    """Windows not cancelled that end after `ending_after` (upcoming and in progress), soonest first."""
    query = (
        sa.select(maintenance)
        .where(maintenance.c.ends_at > ending_after, maintenance.c.cancelled_at.is_(None))
        .order_by(maintenance.c.starts_at)
    )
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return [_maintenance(row._mapping) for row in rows]


async def list_maintenance_between(db: Database, *, start: int, end: int) -> list[Maintenance]:
    query = sa.select(maintenance).where(
        maintenance.c.starts_at < end, maintenance.c.ends_at > start, maintenance.c.cancelled_at.is_(None)
    )
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return [_maintenance(row._mapping) for row in rows]


async def cancel_maintenance(db: Database, *, maintenance_id: int, now: int) -> bool:
    query = (
        sa.update(maintenance)
        .where(maintenance.c.id == maintenance_id, maintenance.c.cancelled_at.is_(None))
        .values(cancelled_at=now)
        .returning(maintenance.c.id)
    )
    async with db.transaction() as conn:
        return await conn.fetch_val(query) is not None


async def claim_due_reminders(db: Database, *, now: int, lead_seconds: int) -> list[Maintenance]:
    """Mark and return windows starting within `lead_seconds` that no process has reminded yet.

    The UPDATE ... WHERE reminded_at IS NULL is the claim: two processes never both remind.
    """
    due = sa.select(maintenance.c.id).where(
        maintenance.c.reminded_at.is_(None),
        maintenance.c.cancelled_at.is_(None),
        maintenance.c.starts_at <= now + lead_seconds,
        maintenance.c.ends_at > now,
    )
    async with db.connection() as conn:
        ids = [int(row[0]) for row in await conn.fetch_all(due)]
    claimed: list[Maintenance] = []
    for maintenance_id in ids:
        query = (
            sa.update(maintenance)
            .where(maintenance.c.id == maintenance_id, maintenance.c.reminded_at.is_(None))
            .values(reminded_at=now)
            .returning(*maintenance.c)
        )
        async with db.transaction() as conn:
            row = await conn.fetch_one(query)
        if row is not None:
            claimed.append(_maintenance(row._mapping))
    return claimed
