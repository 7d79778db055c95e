"""Retention: delete what is older than a resource's plan keeps, in short chunks."""

from __future__ import annotations

import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.tables import drops_daily, events, issue_facets, issue_hourly, issues, project_hourly

CHUNK = 2_000


async def _delete_in_chunks(db: Database, table: sa.Table, key: sa.Column[int], where: sa.ColumnElement[bool]) -> int:
    """Delete matching rows CHUNK at a time, so the single SQLite writer is never held for long."""
    total = 0
    while True:
        async with db.transaction() as conn:
            ids = [row[0] for row in await conn.fetch_all(sa.select(key).where(where).limit(CHUNK))]
            if not ids:
                return total
            # The condition again: a row that changed since it was read (a new event) stays.
            await conn.execute(sa.delete(table).where(key.in_(ids), where))
        total += len(ids)


async def purge_resource(db: Database, *, resource_id: int, cutoff: int) -> tuple[int, int]:
    """Delete a resource's events received before `cutoff` and the issues last seen before it.

    Surviving issues keep their counts (events seen since first_seen, not events still stored);
    hourly counters older than the cutoff go with the events. Returns (events, issues) deleted.
    """
    deleted_events = await _delete_in_chunks(
        db, events, events.c.id, (events.c.resource_id == resource_id) & (events.c.received_at < cutoff)
    )
    stale = (issues.c.resource_id == resource_id) & (issues.c.last_seen < cutoff)
    stale_ids = sa.select(issues.c.id).where(stale)
    hour, day = cutoff // 3600, cutoff // 86400
    async with db.transaction() as conn:
        await conn.execute(sa.delete(issue_facets).where(issue_facets.c.issue_id.in_(stale_ids)))
        await conn.execute(
            sa.delete(issue_hourly).where(
                issue_hourly.c.issue_id.in_(sa.select(issues.c.id).where(issues.c.resource_id == resource_id)),
                issue_hourly.c.hour < hour,
            )
        )
        await conn.execute(
            sa.delete(project_hourly).where(project_hourly.c.resource_id == resource_id, project_hourly.c.hour < hour)
        )
        await conn.execute(
            sa.delete(drops_daily).where(drops_daily.c.resource_id == resource_id, drops_daily.c.day < day)
        )
    deleted_issues = await _delete_in_chunks(db, issues, issues.c.id, stale)
    return deleted_events, deleted_issues
