"""The ingest batch: one transaction that stores a batch of events and every counter they move.

Hot path (STACK-NOTES 2): raw SQL on the driver connection, `executemany` for the row-per-item
statements, nothing compiled by SQLAlchemy. Races between processes are settled by the database:
UNIQUE (resource_id, event_id) with insert-or-ignore (dedupe), INSERT ... ON CONFLICT upserts for
issues and counters. Locks are always taken in the same order (issues sorted by fingerprint, events
by id) so two processes cannot deadlock.
"""

from __future__ import annotations

import functools
import time
from collections import Counter, defaultdict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any, TypeVar

from app.storage.engine import Database

_T = TypeVar("_T")

STORED = "stored"
DUPLICATE = "duplicate"
OVER_QUOTA = "over_quota"


@dataclass(slots=True)
class EventRow:
    """One event ready to be written (normalised, scrubbed, grouped)."""

    resource_id: int
    event_id: str
    fingerprint: str
    title: str
    culprit: str
    type: str
    level: str
    timestamp: float
    received_at: int
    environment: str
    release: str
    payload: str
    quota: int  # the resource plan's events per month when the event arrived


@dataclass(frozen=True)
class IssueChange:
    resource_id: int
    issue_id: int
    title: str
    level: str
    new: bool
    regressed: bool
    events: int
    at: int


@dataclass(frozen=True)
class UsageTotal:
    resource_id: int
    month: int
    events: int
    quota: int


@dataclass(frozen=True)
class BatchResult:
    outcomes: list[str]  # per row, in order: STORED, DUPLICATE or OVER_QUOTA
    issues: list[IssueChange]
    usage: list[UsageTotal]


# (resource_id, day, source, reason) -> count
DropKey = tuple[int, int, str, str]


@functools.lru_cache(maxsize=256)
def month_of(ts: int) -> int:
    """YYYYMM (UTC) of a Unix time; cached, as a batch's rows share a handful of seconds."""
    t = time.gmtime(ts)
    return t.tm_year * 100 + t.tm_mon


@dataclass(slots=True)
class _Issue:
    id: int
    status: str
    count: int
    overage_hour: int


_INSERT_ISSUE_COLUMNS = "resource_id, fingerprint, title, culprit, type, level, status, regressed, count, first_seen, last_seen, overage_hour"
_EVENT_COLUMNS = "resource_id, issue_id, event_id, received_at, timestamp, level, environment, release, payload"
_UPDATE_ISSUE = (
    "UPDATE issues SET count = count + ?, last_seen = MAX(last_seen, ?), level = ?, "
    "overage_hour = MAX(overage_hour, ?), "
    "status = CASE WHEN status = 'resolved' THEN 'unresolved' ELSE status END, "
    "regressed = CASE WHEN status = 'resolved' THEN TRUE ELSE regressed END, "
    "resolved_at = CASE WHEN status = 'resolved' THEN NULL ELSE resolved_at END "
    "WHERE id = ?"
)
_BUMP_ISSUE_HOURLY = (
    "INSERT INTO issue_hourly (issue_id, hour, count) VALUES (?, ?, ?) "
    "ON CONFLICT (issue_id, hour) DO UPDATE SET count = issue_hourly.count + excluded.count"
)
_BUMP_PROJECT_HOURLY = (
    "INSERT INTO project_hourly (resource_id, hour, count) VALUES (?, ?, ?) "
    "ON CONFLICT (resource_id, hour) DO UPDATE SET count = project_hourly.count + excluded.count"
)
_BUMP_USAGE = (
    "INSERT INTO usage_monthly (resource_id, month, events, warned_80, warned_100) VALUES (?, ?, ?, FALSE, FALSE) "
    "ON CONFLICT (resource_id, month) DO UPDATE SET events = usage_monthly.events + excluded.events"
)
_ADD_FACET = (
    "INSERT INTO issue_facets (resource_id, issue_id, name, value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (issue_id, name, value) DO NOTHING"
)
_BUMP_DROPS = (
    "INSERT INTO drops_daily (resource_id, day, source, reason, count) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (resource_id, day, source, reason) DO UPDATE SET count = drops_daily.count + excluded.count"
)
_PG_UPSERT_ISSUES = (
    f"INSERT INTO issues ({_INSERT_ISSUE_COLUMNS}) "
    "SELECT r, f, t, c, ty, l, 'unresolved', FALSE, 0, fs, fs, 0 FROM unnest("
    "$1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) AS u(r, f, t, c, ty, l, fs) "
    # A no-op update, so the row is returned (and locked until commit) whether it was new or not.
    "ON CONFLICT (resource_id, fingerprint) DO UPDATE SET count = issues.count "
    "RETURNING id, resource_id, fingerprint, status, count, overage_hour"
)
# The issue upsert and the usage read of a batch in one statement: issue rows have a fingerprint,
# usage rows have none.
_PG_UPSERT_ISSUES_WITH_USAGE = (
    "WITH up AS (" + _PG_UPSERT_ISSUES + ") "
    "SELECT id, resource_id, fingerprint, status, count, overage_hour, NULL::int AS month, NULL::bigint AS events "
    "FROM up UNION ALL "
    "SELECT NULL, u.resource_id, NULL, NULL, NULL, NULL, u.month, u.events FROM usage_monthly u "
    "JOIN unnest($8::int[], $9::int[]) AS k(r, m) ON u.resource_id = k.r AND u.month = k.m"
)
_PG_ADD_COUNTS = (
    "WITH issue_counts AS ("
    "UPDATE issues SET count = issues.count + u.n, last_seen = GREATEST(issues.last_seen, u.seen), level = u.level, "
    "overage_hour = GREATEST(issues.overage_hour, u.overage), "
    "status = CASE WHEN issues.status = 'resolved' THEN 'unresolved' ELSE issues.status END, "
    "regressed = CASE WHEN issues.status = 'resolved' THEN TRUE ELSE issues.regressed END, "
    "resolved_at = CASE WHEN issues.status = 'resolved' THEN NULL ELSE issues.resolved_at END "
    "FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[]) AS u(n, seen, level, overage, id) "
    "WHERE issues.id = u.id), "
    "issue_hours AS (INSERT INTO issue_hourly (issue_id, hour, count) "
    "SELECT * FROM unnest($6::bigint[], $7::bigint[], $8::bigint[]) "
    "ON CONFLICT (issue_id, hour) DO UPDATE SET count = issue_hourly.count + excluded.count), "
    "project_hours AS (INSERT INTO project_hourly (resource_id, hour, count) "
    "SELECT * FROM unnest($9::int[], $10::bigint[], $11::bigint[]) "
    "ON CONFLICT (resource_id, hour) DO UPDATE SET count = project_hourly.count + excluded.count), "
    "facets AS (INSERT INTO issue_facets (resource_id, issue_id, name, value) "
    "SELECT * FROM unnest($12::int[], $13::bigint[], $14::text[], $15::text[]) "
    "ON CONFLICT (issue_id, name, value) DO NOTHING), "
    "drops AS (INSERT INTO drops_daily (resource_id, day, source, reason, count) "
    "SELECT * FROM unnest($16::int[], $17::int[], $18::text[], $19::text[], $20::bigint[]) "
    "ON CONFLICT (resource_id, day, source, reason) DO UPDATE SET count = drops_daily.count + excluded.count) "
    "INSERT INTO usage_monthly (resource_id, month, events, warned_80, warned_100) "
    "SELECT r, m, n, FALSE, FALSE FROM unnest($21::int[], $22::int[], $23::bigint[]) AS u(r, m, n) "
    "ON CONFLICT (resource_id, month) DO UPDATE SET events = usage_monthly.events + excluded.events "
    "RETURNING resource_id, month, events"
)
_PG_INSERT_EVENTS = (
    f"INSERT INTO events ({_EVENT_COLUMNS}) SELECT * FROM unnest("
    "$1::int[], $2::bigint[], $3::text[], $4::bigint[], $5::float8[], $6::text[], $7::text[], $8::text[], $9::text[]) "
    "ON CONFLICT (resource_id, event_id) DO NOTHING RETURNING resource_id, event_id"
)


@dataclass(slots=True)
class _Counts:
    """What a batch adds to the counters, as rows sorted by key (lock order)."""

    issues: list[tuple[int, int, str, int, int]]  # (events, last_seen, level, overage_hour, issue id)
    issue_hours: list[tuple[int, int, int]]  # (issue id, hour, events)
    project_hours: list[tuple[int, int, int]]  # (resource id, hour, events)
    months: list[tuple[int, int, int]]  # (resource id, month, events)
    facets: list[tuple[int, int, str, str]]  # (resource id, issue id, name, value)
    drops: list[tuple[int, int, str, str, int]]  # (resource id, day, source, reason, count)


class _Batch:
    """The work of one transaction on the driver connection.

    On SQLite `raw` is the plain sqlite3 connection and the whole batch runs in the writer's thread
    (`Database.run_sqlite_transaction`): no method suspends. On PostgreSQL it is asyncpg's.
    """

    def __init__(self, db: Database, raw: Any) -> None:
        self.db = db
        self.raw = raw
        self.sqlite = db.is_sqlite

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.sqlite:
            self.raw.executemany(sql, rows)
        else:
            await self.raw.executemany(self.db.raw_sql(sql), rows)

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        if self.sqlite:
            return list(self.raw.execute(sql, params).fetchall())
        return list(await self.raw.fetch(self.db.raw_sql(sql), *params))

    async def existing_event_ids(self, rows: Sequence[EventRow]) -> set[tuple[int, str]]:
        """Event ids already stored (SQLite only: its single writer makes a look-before-insert exact)."""
        found: set[tuple[int, str]] = set()
        for resource_id, ids in _group(rows, _RESOURCE_ID, _EVENT_ID).items():
            marks = ",".join("?" * len(ids))
            sql = f"SELECT event_id FROM events WHERE resource_id = ? AND event_id IN ({marks})"
            found.update((resource_id, r[0]) for r in await self.fetch(sql, [resource_id, *ids]))
        return found

    async def issues_and_usage(
        self, firsts: list[EventRow], usage_keys: set[tuple[int, int]]
    ) -> tuple[dict[tuple[int, str], _Issue], dict[tuple[int, int], int]]:
        """Create missing issues (count 0); every issue of the batch (locked on PostgreSQL) and the
        monthly usage so far — on PostgreSQL in one round trip, while the batch's requests wait."""
        firsts.sort(key=lambda row: (row.resource_id, row.fingerprint))
        if self.sqlite:
            return await self._sqlite_issues(firsts), await self._sqlite_usage(usage_keys)
        keys = sorted(usage_keys)
        records = await self.raw.fetch(
            _PG_UPSERT_ISSUES_WITH_USAGE,
            [r.resource_id for r in firsts],
            [r.fingerprint for r in firsts],
            [r.title for r in firsts],
            [r.culprit for r in firsts],
            [r.type for r in firsts],
            [r.level for r in firsts],
            [r.received_at for r in firsts],
            [resource_id for resource_id, _ in keys],
            [month for _, month in keys],
        )
        issues: dict[tuple[int, str], _Issue] = {}
        usage: dict[tuple[int, int], int] = {}
        for rec in records:
            if rec["fingerprint"] is None:
                usage[(rec["resource_id"], rec["month"])] = rec["events"]
            else:
                issues[(rec["resource_id"], rec["fingerprint"])] = _Issue(
                    rec["id"], rec["status"], rec["count"], rec["overage_hour"]
                )
        return issues, usage

    async def _sqlite_issues(self, firsts: list[EventRow]) -> dict[tuple[int, str], _Issue]:
        await self.executemany(
            f"INSERT INTO issues ({_INSERT_ISSUE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 'unresolved', FALSE, 0, ?, ?, 0) "
            "ON CONFLICT (resource_id, fingerprint) DO NOTHING",
            [
                (r.resource_id, r.fingerprint, r.title, r.culprit, r.type, r.level, r.received_at, r.received_at)
                for r in firsts
            ],
        )
        issues: dict[tuple[int, str], _Issue] = {}
        for resource_id, fps in _group(firsts, _RESOURCE_ID, _FINGERPRINT).items():
            marks = ",".join("?" * len(fps))
            sql = (
                "SELECT fingerprint, id, status, count, overage_hour FROM issues "
                f"WHERE resource_id = ? AND fingerprint IN ({marks})"
            )
            for r in await self.fetch(sql, [resource_id, *fps]):
                issues[(resource_id, r[0])] = _Issue(int(r[1]), r[2], int(r[3]), int(r[4]))
        return issues

    async def _sqlite_usage(self, keys: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
        usage: dict[tuple[int, int], int] = {}
        for month, resource_ids in _group(sorted(keys), itemgetter(1), itemgetter(0)).items():
            marks = ",".join("?" * len(resource_ids))
            sql = f"SELECT resource_id, events FROM usage_monthly WHERE month = ? AND resource_id IN ({marks})"
            for r in await self.fetch(sql, [month, *resource_ids]):
                usage[(int(r[0]), month)] = int(r[1])
        return usage

    async def add_counts(self, counts: _Counts, usage_before: dict[tuple[int, int], int]) -> dict[tuple[int, int], int]:
        """Move every counter of the batch; returns the monthly usage totals after it."""
        if self.sqlite:
            await self.executemany(_UPDATE_ISSUE, counts.issues)
            await self.executemany(_BUMP_ISSUE_HOURLY, counts.issue_hours)
            await self.executemany(_BUMP_PROJECT_HOURLY, counts.project_hours)
            await self.executemany(_BUMP_USAGE, counts.months)
            await self.executemany(_ADD_FACET, counts.facets)
            await self.executemany(_BUMP_DROPS, counts.drops)
            # The single writer: nobody else moved the counters in between.
            return {(rid, month): usage_before.get((rid, month), 0) + n for rid, month, n in counts.months}
        # One round trip instead of up to seven; every table gets its rows in sorted order, like above.
        records = await self.raw.fetch(
            _PG_ADD_COUNTS,
            *_columns(counts.issues, 5),
            *_columns(counts.issue_hours, 3),
            *_columns(counts.project_hours, 3),
            *_columns(counts.facets, 4),
            *_columns(counts.drops, 5),
            *_columns(counts.months, 3),
        )
        return {(rec["resource_id"], rec["month"]): rec["events"] for rec in records}

    async def insert_events(self, kept: list[tuple[EventRow, int]]) -> set[tuple[int, str]]:
        """Insert-or-ignore; returns the (resource_id, event_id) pairs actually inserted."""
        kept.sort(key=lambda item: (item[0].resource_id, item[0].event_id))
        if self.sqlite:
            await self.executemany(
                f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (resource_id, event_id) DO NOTHING",
                [
                    (
                        r.resource_id,
                        issue_id,
                        r.event_id,
                        r.received_at,
                        r.timestamp,
                        r.level,
                        r.environment,
                        r.release,
                        r.payload,
                    )
                    for r, issue_id in kept
                ],
            )
            return {(r.resource_id, r.event_id) for r, _ in kept}
        records = await self.raw.fetch(
            _PG_INSERT_EVENTS,
            [r.resource_id for r, _ in kept],
            [issue_id for _, issue_id in kept],
            [r.event_id for r, _ in kept],
            [r.received_at for r, _ in kept],
            [r.timestamp for r, _ in kept],
            [r.level for r, _ in kept],
            [r.environment for r, _ in kept],
            [r.release for r, _ in kept],
            [r.payload for r, _ in kept],
        )
        return {(rec["resource_id"], rec["event_id"]) for rec in records}


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as column lists (asyncpg's `unnest($1::int[], ...)` parameters)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


# Row fields as C-level getters: the batch calls them for every row (cheaper than lambdas).
_RESOURCE_ID = attrgetter("resource_id")
_EVENT_ID = attrgetter("event_id")
_FINGERPRINT = attrgetter("fingerprint")
_RECEIVED_AT = attrgetter("received_at")


def _group(items: Sequence[Any], key: Any, value: Any) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for item in items:
        grouped[key(item)].append(value(item))
    return grouped


async def write_batch(db: Database, *, rows: Sequence[EventRow], drops: Counter[DropKey], now: int) -> BatchResult:
    """Store a batch in one transaction; the outcome of each row says what happened to it.

    Past its quota a row is still kept when it is the first event of a new issue, or the first
    over-quota event of its issue this hour (issues.overage_hour); otherwise it is OVER_QUOTA and
    counted in drops_daily. `drops` (pending drops recorded outside the batch) is written too.
    """
    if db.is_sqlite:
        return await db.run_sqlite_transaction(lambda conn: _finish(_write(_Batch(db, conn), rows, drops, now)))
    async with db.writer_transaction() as driver:
        return await _write(_Batch(db, driver), rows, drops, now)


def _finish(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """The result of a coroutine that never suspends, computed without an event loop.

    On SQLite every `await` of a batch is synchronous sqlite3 work in the writer's thread, so the
    batch logic (`_write`) is written once, as a coroutine, for both databases.
    """
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: _T = done.value
        return result
    coroutine.close()
    raise RuntimeError("an SQLite batch tried to suspend")


async def _write(batch: _Batch, rows: Sequence[EventRow], drops: Counter[DropKey], now: int) -> BatchResult:
    # Runs once per batch with every event in it (in the SQLite thread, on SQLite): per-row work is
    # kept to one pass each step, with plain dicts.
    outcomes = [STORED] * len(rows)
    drops = Counter(drops)
    # 1. Duplicates inside the batch, and (SQLite) of stored events.
    seen: set[tuple[int, str]] = set()
    candidates: list[int] = []
    for i, row in enumerate(rows):
        key = (row.resource_id, row.event_id)
        if key in seen:
            outcomes[i] = DUPLICATE
        else:
            seen.add(key)
            candidates.append(i)
    if batch.sqlite and candidates:
        stored = await batch.existing_event_ids([rows[i] for i in candidates])
        if stored:
            for i in candidates:
                if (rows[i].resource_id, rows[i].event_id) in stored:
                    outcomes[i] = DUPLICATE
            candidates = [i for i in candidates if outcomes[i] == STORED]

    # 2. Issues (created with count 0 when new) and usage so far.
    firsts: dict[tuple[int, str], EventRow] = {}
    usage_keys: set[tuple[int, int]] = set()
    for i in candidates:
        row = rows[i]
        firsts.setdefault((row.resource_id, row.fingerprint), row)
        usage_keys.add((row.resource_id, month_of(row.received_at)))
    issues, usage_before = await batch.issues_and_usage(list(firsts.values()), usage_keys) if firsts else ({}, {})
    usage = dict(usage_before)

    # 3. Quota: which candidates are kept.
    kept: list[tuple[EventRow, int]] = []
    started: set[int] = set()  # new issues that already have their first event in this batch
    trickled: dict[int, int] = {}  # issue id -> hour granted an over-quota event in this batch
    for i in candidates:
        row = rows[i]
        issue = issues[(row.resource_id, row.fingerprint)]
        month_key = (row.resource_id, month_of(row.received_at))
        used = usage.get(month_key, 0)
        if used >= row.quota:
            hour = row.received_at // 3600
            if (issue.count == 0 and issue.id not in started) or (
                issue.overage_hour < hour and issue.id not in trickled
            ):
                # The first event of a new issue, or this hour's one event of an issue: kept.
                trickled[issue.id] = hour
            else:
                outcomes[i] = OVER_QUOTA
                drops[(row.resource_id, row.received_at // 86400, "server", "quota")] += 1
                continue
        usage[month_key] = used + 1
        started.add(issue.id)
        kept.append((row, issue.id))

    # 4. Events (insert-or-ignore), then the counters of those actually inserted.
    inserted = await batch.insert_events(kept) if kept else set()
    everything = len(inserted) == len(kept)  # always on SQLite; on PostgreSQL unless another process won
    per_issue: dict[int, list[EventRow]] = {}
    # (issue, resource, received_at, environment, release) -> events: a handful of keys per batch,
    # from which the hourly, monthly and facet counters are made below.
    tallies: dict[tuple[int, int, int, str, str], int] = {}
    for row, issue_id in kept:
        if not everything and (row.resource_id, row.event_id) not in inserted:
            continue
        events = per_issue.get(issue_id)
        if events is None:
            per_issue[issue_id] = [row]
        else:
            events.append(row)
        tally = (issue_id, row.resource_id, row.received_at, row.environment, row.release)
        tallies[tally] = tallies.get(tally, 0) + 1
    if not everything:
        for i in candidates:
            if outcomes[i] == STORED and (rows[i].resource_id, rows[i].event_id) not in inserted:
                outcomes[i] = DUPLICATE  # PostgreSQL: another process stored it first

    issue_updates = []
    for issue_id in sorted(per_issue):
        events = per_issue[issue_id]
        latest = max(events, key=_RECEIVED_AT)
        issue_updates.append((len(events), latest.received_at, latest.level, trickled.get(issue_id, 0), issue_id))
    issue_hours: Counter[tuple[int, int]] = Counter()
    project_hours: Counter[tuple[int, int]] = Counter()
    months: Counter[tuple[int, int]] = Counter()
    facets: set[tuple[int, int, str, str]] = set()
    for (issue_id, resource_id, received_at, environment, release), n in tallies.items():
        hour = received_at // 3600
        issue_hours[(issue_id, hour)] += n
        project_hours[(resource_id, hour)] += n
        months[(resource_id, month_of(received_at))] += n
        if environment:
            facets.add((resource_id, issue_id, "environment", environment))
        if release:
            facets.add((resource_id, issue_id, "release", release))
    totals = await batch.add_counts(
        _Counts(
            issues=issue_updates,
            issue_hours=[(*k, n) for k, n in sorted(issue_hours.items())],
            project_hours=[(*k, n) for k, n in sorted(project_hours.items())],
            months=[(*k, n) for k, n in sorted(months.items())],
            facets=sorted(facets),
            drops=[(*k, n) for k, n in sorted(drops.items())],
        ),
        usage_before,
    )
    # Issues this batch created but whose every event turned out to be a duplicate.
    empty = [(issue.id,) for issue in issues.values() if issue.count == 0 and issue.id not in per_issue]
    await batch.executemany("DELETE FROM issues WHERE id = ? AND count = 0", empty)

    changes = []
    by_id = {issue.id: (key, issue) for key, issue in issues.items()}
    for issue_id, events in per_issue.items():
        (resource_id, fingerprint), issue = by_id[issue_id]
        first = firsts[(resource_id, fingerprint)]
        latest = events[-1]
        changes.append(
            IssueChange(
                resource_id=resource_id,
                issue_id=issue_id,
                title=first.title,
                level=latest.level,
                new=issue.count == 0,
                regressed=issue.status == "resolved",
                events=len(events),
                at=now,
            )
        )
    quotas = {row.resource_id: row.quota for row in rows}
    usage_totals = [
        UsageTotal(resource_id=rid, month=month, events=n, quota=quotas[rid]) for (rid, month), n in totals.items()
    ]
    return BatchResult(outcomes=outcomes, issues=changes, usage=usage_totals)


async def add_drops(db: Database, *, drops: Counter[DropKey]) -> None:
    """Count events that were not stored (client reports, quota refusals outside a batch)."""
    rows = [(*k, n) for k, n in sorted(drops.items())]
    if db.is_sqlite:
        await db.run_sqlite_transaction(lambda conn: _finish(_Batch(db, conn).executemany(_BUMP_DROPS, rows)))
        return
    async with db.transaction() as conn:
        await _Batch(db, conn.raw_connection).executemany(_BUMP_DROPS, rows)
