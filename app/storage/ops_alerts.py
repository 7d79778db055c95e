"""Per-resource alert settings and the throttle state that keeps a flood to a handful of alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.ops_tables import alert_settings, alert_state


@dataclass(frozen=True)
class AlertSettings:
    resource_id: int
    email_enabled: bool
    webhook_url: str
    webhook_secret: str
    on_new: bool
    on_regression: bool
    on_spike: bool
    spike_events: int
    spike_minutes: int
    updated_at: int

    @property
    def enabled(self) -> bool:
        return self.email_enabled or bool(self.webhook_url)


def default_settings(resource_id: int) -> AlertSettings:
    return AlertSettings(resource_id, False, "", "", True, True, True, 100, 10, 0)


def _settings(row: Mapping[str, Any]) -> AlertSettings:
    values = {name: row[name] for name in AlertSettings.__dataclass_fields__}
    for name in ("email_enabled", "on_new", "on_regression", "on_spike"):
        values[name] = bool(values[name])
    return AlertSettings(**values)


async def get_settings(db: Database, *, resource_id: int) -> AlertSettings | None:
    async with db.connection() as conn:
        row = await conn.fetch_one(sa.select(alert_settings).where(alert_settings.c.resource_id == resource_id))
    return _settings(row._mapping) if row else None


async def save_settings(db: Database, *, settings: AlertSettings) -> None:
    values = {name: getattr(settings, name) for name in AlertSettings.__dataclass_fields__}
    changes = {name: value for name, value in values.items() if name != "resource_id"}
    insert = (
        db.insert(alert_settings).values(**values).on_conflict_do_update(index_elements=["resource_id"], set_=changes)
    )
    async with db.transaction() as conn:
        await conn.execute(insert)


async def claim(db: Database, *, resource_id: int, issue_id: int, kind: str, now: int, cooldown: int) -> bool:
    """True if no alert of `kind` went out for this issue in the last `cooldown` seconds (and mark it).

    Settled by the database: the conditional UPDATE ... RETURNING succeeds for one caller only.
    """
    seed = db.insert(alert_state).values(resource_id=resource_id, issue_id=issue_id, kind=kind, last_sent_at=0, sent=0)
    update = (
        sa.update(alert_state)
        .where(
            alert_state.c.resource_id == resource_id,
            alert_state.c.issue_id == issue_id,
            alert_state.c.kind == kind,
            alert_state.c.last_sent_at <= now - cooldown,
        )
        .values(last_sent_at=now, sent=alert_state.c.sent + 1)
        .returning(alert_state.c.sent)
    )
    async with db.transaction() as conn:
        await conn.execute(seed.on_conflict_do_nothing())
        return await conn.fetch_val(update) is not None


async def take_budget(db: Database, *, resource_id: int, hour: int, limit: int) -> bool:
    """One unit of the resource's hourly alert budget; False once `limit` alerts went out this hour."""
    kind = f"hour:{hour}"
    seed = db.insert(alert_state).values(resource_id=resource_id, issue_id=0, kind=kind, last_sent_at=0, sent=0)
    update = (
        sa.update(alert_state)
        .where(
            alert_state.c.resource_id == resource_id,
            alert_state.c.issue_id == 0,
            alert_state.c.kind == kind,
            alert_state.c.sent < limit,
        )
        .values(sent=alert_state.c.sent + 1)
        .returning(alert_state.c.sent)
    )
    async with db.transaction() as conn:
        await conn.execute(seed.on_conflict_do_nothing())
        await conn.execute(
            sa.delete(alert_state).where(
                alert_state.c.resource_id == resource_id,
                alert_state.c.issue_id == 0,
                alert_state.c.kind.like("hour:%"),
                alert_state.c.kind != kind,
            )
        )
        return await conn.fetch_val(update) is not None
