"""Dashboard reads and status changes of issues and their events.

Every function takes the session's resource id and scopes its query by it. Pages read the issues
row (counters kept by the consume path), issue_hourly and at most one page of events through the
(issue_id, id) index: nothing here scans the events of a resource.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.tables import events, issue_facets, issue_hourly, issues

SORT_COLUMNS = {"last_seen": issues.c.last_seen, "first_seen": issues.c.first_seen, "count": issues.c.count}
STATUSES = ("unresolved", "resolved", "ignored")


@dataclass(frozen=True)
class Issue:
    id: int
    title: str
    culprit: str
    type: str
    level: str
    status: str
    regressed: bool
    count: int
    first_seen: int
    last_seen: int
    resolved_at: int | None


@dataclass(frozen=True)
class IssueQuery:
    """A page of the issue list: filters, sort (always descending) and a keyset cursor."""

    status: str | None = "unresolved"
    level: str | None = None
    environment: str | None = None
    release: str | None = None
    text: str | None = None
    sort: str = "last_seen"
    after: tuple[int, int] | None = None  # (sort value, id) of the last row of the previous page
    limit: int = 50


@dataclass(frozen=True)
class EventSummary:
    id: int
    event_id: str
    received_at: int
    timestamp: float
    level: str
    environment: str
    release: str


@dataclass(frozen=True)
class Event(EventSummary):
    payload: str


_ISSUE_COLUMNS = [issues.c[name] for name in Issue.__dataclass_fields__]
_SUMMARY_COLUMNS = [events.c[name] for name in EventSummary.__dataclass_fields__]


def _issue(row: Mapping[str, Any]) -> Issue:
    return Issue(**{name: row[name] for name in Issue.__dataclass_fields__})


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _facet_filter(resource_id: int, name: str, value: str) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        issue_facets.c.resource_id == resource_id,
        issue_facets.c.name == name,
        issue_facets.c.value == value,
        issue_facets.c.issue_id == issues.c.id,
    )


def _filters(resource_id: int, query: IssueQuery) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [issues.c.resource_id == resource_id]
    if query.status:
        where.append(issues.c.status == query.status)
    if query.level:
        where.append(issues.c.level == query.level)
    if query.environment is not None:
        where.append(_facet_filter(resource_id, "environment", query.environment))
    if query.release is not None:
        where.append(_facet_filter(resource_id, "release", query.release))
    if query.text:
        # lower() LIKE: same on both databases, and faster than PostgreSQL's ILIKE.
        pattern = _like_pattern(query.text.lower())
        where.append(
            sa.or_(
                sa.func.lower(issues.c.title).like(pattern, escape="\\"),
                sa.func.lower(issues.c.culprit).like(pattern, escape="\\"),
            )
        )
    return where


async def list_issues(db: Database, *, resource_id: int, query: IssueQuery) -> list[Issue]:
    """One page of issues, newest/biggest first; ask for limit + 1 to know whether more follow."""
    column = SORT_COLUMNS[query.sort]
    where = _filters(resource_id, query)
    if query.after is not None:
        where.append(sa.tuple_(column, issues.c.id) < sa.tuple_(*query.after))
    select = sa.select(*_ISSUE_COLUMNS).where(*where).order_by(column.desc(), issues.c.id.desc()).limit(query.limit)
    async with db.connection() as conn:
        rows = await conn.fetch_all(select)
    return [_issue(row._mapping) for row in rows]


async def count_issues(db: Database, *, resource_id: int, query: IssueQuery) -> int:
    select = sa.select(sa.func.count()).select_from(issues).where(*_filters(resource_id, query))
    async with db.connection() as conn:
        return int(await conn.fetch_val(select) or 0)


async def status_counts(db: Database, *, resource_id: int) -> dict[str, int]:
    select = (
        sa.select(issues.c.status, sa.func.count()).where(issues.c.resource_id == resource_id).group_by(issues.c.status)
    )
    async with db.connection() as conn:
        rows = await conn.fetch_all(select)
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({str(row[0]): int(row[1]) for row in rows})
    return counts


# Distinct values by hopping through the (resource_id, name, value, issue_id) index, one seek per
# value, instead of scanning every facet row of the resource (a loose index scan, portable).
_FACET_VALUES = sa.text(
    """
    WITH RECURSIVE found(value) AS (
        SELECT MAX(value) FROM issue_facets WHERE resource_id = :resource_id AND name = :name
        UNION ALL
        SELECT (SELECT MAX(f.value) FROM issue_facets f
                WHERE f.resource_id = :resource_id AND f.name = :name AND f.value < found.value)
        FROM found WHERE found.value IS NOT NULL
    )
    SELECT value FROM found WHERE value IS NOT NULL LIMIT :limit
    """
)


async def facet_values(db: Database, *, resource_id: int, name: str, limit: int = 100) -> list[str]:
    """The environments (or releases) seen by this resource's issues, for the filter menus (descending)."""
    query = _FACET_VALUES.bindparams(resource_id=resource_id, name=name, limit=limit)
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return [str(row[0]) for row in rows]


async def issue_facet_values(db: Database, *, issue_id: int) -> dict[str, list[str]]:
    select = sa.select(issue_facets.c.name, issue_facets.c.value).where(issue_facets.c.issue_id == issue_id)
    async with db.connection() as conn:
        rows = await conn.fetch_all(select)
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(str(row[0]), []).append(str(row[1]))
    return found


async def hourly_counts(db: Database, *, issue_ids: Sequence[int], since_hour: int) -> dict[int, dict[int, int]]:
    """issue id → {hour: count} from the hourly counters (sparklines and charts).

    One row per issue with its hours packed as "hour:count,..." (group_concat / string_agg): reading
    a thousand small rows through `databases` costs more than the query itself.
    """
    if not issue_ids:
        return {}
    packed = sa.func.aggregate_strings(
        sa.cast(issue_hourly.c.hour, sa.String) + ":" + sa.cast(issue_hourly.c.count, sa.String), ","
    )
    select = (
        sa.select(issue_hourly.c.issue_id, packed)
        .where(issue_hourly.c.issue_id.in_(list(issue_ids)), issue_hourly.c.hour >= since_hour)
        .group_by(issue_hourly.c.issue_id)
    )
    async with db.connection() as conn:
        rows = await conn.fetch_all(select)
    found: dict[int, dict[int, int]] = {}
    for row in rows:
        counts = found.setdefault(int(row[0]), {})
        for item in str(row[1]).split(","):
            hour, _, count = item.partition(":")
            counts[int(hour)] = int(count)
    return found


async def get_issue(db: Database, *, resource_id: int, issue_id: int) -> Issue | None:
    select = sa.select(*_ISSUE_COLUMNS).where(issues.c.id == issue_id, issues.c.resource_id == resource_id)
    async with db.connection() as conn:
        row = await conn.fetch_one(select)
    return _issue(row._mapping) if row else None


async def get_event(db: Database, *, resource_id: int, issue_id: int, event_row_id: int | None = None) -> Event | None:
    """The given event of an issue, or its latest one (highest id) through the (issue_id, id) index."""
    where = [events.c.issue_id == issue_id, events.c.resource_id == resource_id]
    if event_row_id is not None:
        where.append(events.c.id == event_row_id)
    select = sa.select(*_SUMMARY_COLUMNS, events.c.payload).where(*where).order_by(events.c.id.desc()).limit(1)
    async with db.connection() as conn:
        row = await conn.fetch_one(select)
    if row is None:
        return None
    return Event(**{name: row._mapping[name] for name in Event.__dataclass_fields__})


async def neighbour_event_ids(
    db: Database, *, resource_id: int, issue_id: int, event_row_id: int
) -> tuple[int | None, int | None]:
    """(older, newer) event ids around one event of an issue."""
    scope = [events.c.issue_id == issue_id, events.c.resource_id == resource_id]
    older = sa.select(events.c.id).where(*scope, events.c.id < event_row_id).order_by(events.c.id.desc()).limit(1)
    newer = sa.select(events.c.id).where(*scope, events.c.id > event_row_id).order_by(events.c.id.asc()).limit(1)
    async with db.connection() as conn:
        before = await conn.fetch_val(older)
        after = await conn.fetch_val(newer)
    return (int(before) if before is not None else None, int(after) if after is not None else None)


async def list_events(
    db: Database, *, resource_id: int, issue_id: int, before: int | None, limit: int
) -> list[EventSummary]:
    """A page of an issue's events, newest first, keyset on the event id."""
    where = [events.c.issue_id == issue_id, events.c.resource_id == resource_id]
    if before is not None:
        where.append(events.c.id < before)
    select = sa.select(*_SUMMARY_COLUMNS).where(*where).order_by(events.c.id.desc()).limit(limit)
    async with db.connection() as conn:
        rows = await conn.fetch_all(select)
    return [EventSummary(**{name: row._mapping[name] for name in EventSummary.__dataclass_fields__}) for row in rows]


async def set_status(db: Database, *, resource_id: int, issue_ids: Sequence[int], status: str, now: int) -> int:
    """Set the status of this resource's issues among `issue_ids`; returns how many rows changed."""
    if not issue_ids:
        return 0
    values: dict[str, Any] = {"status": status, "regressed": False}
    values["resolved_at"] = now if status == "resolved" else None
    update = (
        sa.update(issues).where(issues.c.resource_id == resource_id, issues.c.id.in_(list(issue_ids))).values(**values)
    )
    async with db.transaction() as conn:
        await conn.execute(update)
        changed = await conn.fetch_val(
            sa.select(sa.func.count()).where(issues.c.resource_id == resource_id, issues.c.id.in_(list(issue_ids)))
        )
    return int(changed or 0)
