"""Issue queries and status changes for the dashboard; every call is scoped to one resource."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from app.errors import BadRequest, NotFound
from app.storage import issues as store
from app.storage.engine import Database
from app.storage.issues import STATUSES, Event, EventSummary, Issue, IssueQuery

LEVELS = ("fatal", "error", "warning", "info", "debug")
PAGE_SIZE = 50
EVENTS_PAGE_SIZE = 50
MAX_TEXT = 200
ACTIONS = {"resolve": "resolved", "ignore": "ignored", "reopen": "unresolved"}
_FROM_TABS = -1  # only a status filter: the total is one of the tab counts


@dataclass(frozen=True)
class IssueListPage:
    query: IssueQuery
    issues: list[Issue]
    sparklines: dict[int, list[int]]  # issue id → 24 hourly counts, oldest first
    next_cursor: str | None
    total: int | None  # None for a text search (not counted)
    status_counts: dict[str, int]
    environments: list[str]
    releases: list[str]


@dataclass(frozen=True)
class IssueDetail:
    issue: Issue
    event: Event | None
    payload: dict[str, Any]
    hourly: list[tuple[int, int]]  # (hour, count), last 24 hours
    daily: list[tuple[int, int]]  # (day, count), last 30 days
    facets: dict[str, list[str]]
    older_event: int | None
    newer_event: int | None


@dataclass(frozen=True)
class EventsPage:
    issue: Issue
    events: list[EventSummary]
    next_before: int | None


def _choice(params: Mapping[str, str], name: str, allowed: Sequence[str]) -> str | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if value not in allowed:
        raise BadRequest(f"'{name}' must be one of {', '.join(allowed)}", field=name)
    return value


def _optional(params: Mapping[str, str], name: str, limit: int) -> str | None:
    if name not in params or params[name] == "":
        return None
    return params[name][:limit]


def parse_cursor(raw: str) -> tuple[int, int]:
    value, sep, issue_id = raw.partition(".")
    if not sep or not value.lstrip("-").isdigit() or not issue_id.isdigit():
        raise BadRequest("malformed cursor", field="after")
    return int(value), int(issue_id)


def parse_query(params: Mapping[str, str]) -> IssueQuery:
    """The issue-list query from URL parameters; `status=all` lists every status."""
    raw_status = params.get("status", "unresolved").strip() or "unresolved"
    status = None if raw_status == "all" else _choice({"status": raw_status}, "status", STATUSES)
    after = params.get("after", "").strip()
    return IssueQuery(
        status=status,
        level=_choice(params, "level", LEVELS),
        environment=_optional(params, "environment", 64),
        release=_optional(params, "release", 128),
        text=(params.get("q", "").strip()[:MAX_TEXT] or None),
        sort=_choice(params, "sort", tuple(store.SORT_COLUMNS)) or "last_seen",
        after=parse_cursor(after) if after else None,
        limit=PAGE_SIZE,
    )


def _cursor(issue: Issue, sort: str) -> str:
    value = {"last_seen": issue.last_seen, "first_seen": issue.first_seen, "count": issue.count}[sort]
    return f"{value}.{issue.id}"


def _series(counts: Mapping[int, int], start: int, length: int) -> list[tuple[int, int]]:
    return [(slot, counts.get(slot, 0)) for slot in range(start, start + length)]


async def _page_and_sparklines(
    db: Database, resource_id: int, query: IssueQuery, first_hour: int
) -> tuple[list[Issue], bool, dict[int, dict[int, int]]]:
    page_query = IssueQuery(**{**query.__dict__, "limit": query.limit + 1})
    found = await store.list_issues(db, resource_id=resource_id, query=page_query)
    page = found[: query.limit]
    hourly = await store.hourly_counts(db, issue_ids=[issue.id for issue in page], since_hour=first_hour)
    return page, len(found) > query.limit, hourly


async def _filtered_total(db: Database, resource_id: int, query: IssueQuery) -> int | None:
    if query.text:
        # Counting text matches is a second scan of every issue's title and culprit: not worth it.
        return None
    if query.level or query.environment is not None or query.release is not None:
        return await store.count_issues(db, resource_id=resource_id, query=query)
    return _FROM_TABS


async def list_page(db: Database, *, resource_id: int, query: IssueQuery, now: int | None = None) -> IssueListPage:
    now = int(time.time()) if now is None else now
    first_hour = now // 3600 - 23
    # Independent reads run together: on PostgreSQL each takes its own pooled connection, so the
    # page costs the slowest query, not the sum (SQLite's one reader serialises them anyway).
    (page, more, hourly), counts, total, environments, releases = await asyncio.gather(
        _page_and_sparklines(db, resource_id, query, first_hour),
        store.status_counts(db, resource_id=resource_id),
        _filtered_total(db, resource_id, query),
        store.facet_values(db, resource_id=resource_id, name="environment"),
        store.facet_values(db, resource_id=resource_id, name="release"),
    )
    if total == _FROM_TABS:
        total = counts[query.status] if query.status else sum(counts.values())
    return IssueListPage(
        query=query,
        issues=page,
        sparklines={
            issue.id: [count for _, count in _series(hourly.get(issue.id, {}), first_hour, 24)] for issue in page
        },
        next_cursor=_cursor(page[-1], query.sort) if more and page else None,
        total=total,
        status_counts=counts,
        environments=environments,
        releases=releases,
    )


async def _issue_or_404(db: Database, resource_id: int, issue_id: int) -> Issue:
    issue = await store.get_issue(db, resource_id=resource_id, issue_id=issue_id)
    if issue is None:
        raise NotFound("no such issue")
    return issue


def parse_payload(event: Event | None) -> dict[str, Any]:
    if event is None:
        return {}
    try:
        payload = orjson.loads(event.payload)
    except orjson.JSONDecodeError:
        return {}
    return payload if isinstance(payload, dict) else {}


async def _neighbours(
    db: Database, resource_id: int, issue_id: int, event: Event | None
) -> tuple[int | None, int | None]:
    if event is None:
        return None, None
    return await store.neighbour_event_ids(db, resource_id=resource_id, issue_id=issue_id, event_row_id=event.id)


async def detail(
    db: Database, *, resource_id: int, issue_id: int, event_row_id: int | None = None, now: int | None = None
) -> IssueDetail:
    now = int(time.time()) if now is None else now
    found, event = await asyncio.gather(
        store.get_issue(db, resource_id=resource_id, issue_id=issue_id),
        store.get_event(db, resource_id=resource_id, issue_id=issue_id, event_row_id=event_row_id),
    )
    if found is None:
        raise NotFound("no such issue")
    issue = found
    if event is None and event_row_id is not None:
        raise NotFound("no such event")
    first_day = now // 86400 - 29
    # Only now that the issue is known to be this resource's: its counters and facets.
    hourly, facets, (older, newer) = await asyncio.gather(
        store.hourly_counts(db, issue_ids=[issue_id], since_hour=first_day * 24),
        store.issue_facet_values(db, issue_id=issue_id),
        _neighbours(db, resource_id, issue_id, event),
    )
    hours = hourly.get(issue_id, {})
    days: dict[int, int] = {}
    for hour, count in hours.items():
        days[hour // 24] = days.get(hour // 24, 0) + count
    return IssueDetail(
        issue=issue,
        event=event,
        payload=parse_payload(event),
        hourly=_series(hours, now // 3600 - 23, 24),
        daily=_series(days, first_day, 30),
        facets=facets,
        older_event=older,
        newer_event=newer,
    )


async def events_page(db: Database, *, resource_id: int, issue_id: int, before: int | None) -> EventsPage:
    issue = await _issue_or_404(db, resource_id, issue_id)
    found = await store.list_events(
        db, resource_id=resource_id, issue_id=issue_id, before=before, limit=EVENTS_PAGE_SIZE + 1
    )
    page = found[:EVENTS_PAGE_SIZE]
    more = len(found) > EVENTS_PAGE_SIZE
    return EventsPage(issue=issue, events=page, next_before=page[-1].id if more and page else None)


def parse_action(raw: str) -> str:
    if raw not in ACTIONS:
        raise BadRequest(f"'action' must be one of {', '.join(ACTIONS)}", field="action")
    return ACTIONS[raw]


def parse_ids(raw: Sequence[str], limit: int = 500) -> list[int]:
    ids = [int(value) for value in raw if value.isdigit() and len(value) <= 18]
    if not ids:
        raise BadRequest("select at least one issue", field="ids")
    return ids[:limit]


async def set_status(db: Database, *, resource_id: int, issue_ids: Sequence[int], action: str) -> int:
    """Resolve, ignore or reopen; ids of other resources simply match nothing (404 when none match)."""
    changed = await store.set_status(
        db, resource_id=resource_id, issue_ids=issue_ids, status=parse_action(action), now=int(time.time())
    )
    if changed == 0:
        raise NotFound("no such issue")
    return changed
