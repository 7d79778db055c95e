"""`tracebin-server seed-demo`: fill a resource with realistic issues and events, fast.

Rows are built in Python and written in bulk on the driver connection (executemany on SQLite, COPY
on PostgreSQL). Every counter the dashboard reads (issues.count/first_seen/last_seen, issue_hourly,
project_hourly, usage_monthly, issue_facets) is computed from the generated events, so the pages
show consistent numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from app.services import provisioning
from app.settings import Settings
from app.storage import migrate, resources
from app.storage.engine import Database
from app.storage.tables import issues as issues_table

EXCEPTIONS = (
    ("ValueError", "invalid literal for int() with base 10: 'abc'"),
    ("KeyError", "'user_id'"),
    ("ZeroDivisionError", "division by zero"),
    ("TypeError", "unsupported operand type(s) for +: 'int' and 'NoneType'"),
    ("AttributeError", "'NoneType' object has no attribute 'email'"),
    ("TimeoutError", "upstream request timed out after 30 s"),
    ("ConnectionError", "connection refused by payments.internal:443"),
    ("PermissionError", "access denied for role 'viewer'"),
    ("IntegrityError", 'duplicate key value violates unique constraint "orders_pkey"'),
    ("RuntimeError", "worker pool exhausted"),
)
AREAS = ("billing", "checkout", "accounts", "search", "reports", "api", "auth", "inventory", "mailer", "jobs")
VERBS = ("create", "update", "render", "sync", "charge", "import", "export", "notify", "lookup", "refresh")
LEVELS = (("error", 80), ("fatal", 3), ("warning", 12), ("info", 5))
STATUSES = (("unresolved", 80), ("resolved", 15), ("ignored", 5))
ENVIRONMENTS = (("production", 80), ("staging", 20))
RELEASE_EVERY = 3 * 86400  # a new release every three days
CHUNK = 20_000

EVENT_COLUMNS = (
    "resource_id",
    "issue_id",
    "event_id",
    "received_at",
    "timestamp",
    "level",
    "environment",
    "release",
    "payload",
)


@dataclass(frozen=True)
class SeedSummary:
    resource_id: int
    issues: int
    events: int
    seconds: float


@dataclass
class _IssueSpec:
    fingerprint: str
    title: str
    culprit: str
    type: str
    level: str
    status: str
    environment: str
    first_seen: int
    count: int
    template: str  # the payload JSON after the per-event keys (starts with ',"level"...')


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in choices], weights=[weight for _, weight in choices])[0]


def release_at(ts: float) -> str:
    return f"v{int(ts) // RELEASE_EVERY % 1000}"


def _frame(area: str, verb: str, depth: int, in_app: bool) -> dict[str, Any]:
    module = f"shop.{area}.views" if in_app else "django.core.handlers.base"
    return {
        "filename": module.replace(".", "/") + ".py",
        "abs_path": "",
        "function": f"{verb}_{area}" if in_app else "_get_response",
        "module": module,
        "lineno": 40 + depth * 7,
        "colno": None,
        "context_line": f"    result = {verb}(request, item_id)" if in_app else "    response = wrapped(request)",
        "pre_context": [f"def {verb}_{area}(request, item_id):"],
        "post_context": ["    return render(request, result)"],
        "in_app": in_app,
        "vars": {"item_id": str(depth * 17)} if in_app else {},
    }


def _template(spec_type: str, value: str, area: str, verb: str, level: str, environment: str) -> str:
    payload = {
        "level": level,
        "platform": "python",
        "logger": f"shop.{area}",
        "message": "",
        "exception": [
            {
                "type": spec_type,
                "value": value,
                "module": "builtins",
                "mechanism": {"type": "excepthook", "handled": False},
                "frames": [_frame(area, verb, 0, False), _frame(area, verb, 1, True)],
            }
        ],
        "environment": environment,
        "server_name": "web.1",
        "tags": {"area": area, "runtime": "CPython 3.11"},
        "user": {"id": "42", "email": "", "username": "", "ip_address": ""},
        "request": {
            "method": "POST",
            "url": f"https://shop.example.com/{area}/{verb}",
            "query_string": "",
            "headers": {},
            "cookies": {},
            "data": None,
            "env": {},
        },
        "contexts": {},
        "extra": {},
        "breadcrumbs": [
            {
                "timestamp": 0,
                "type": "http",
                "category": "httplib",
                "level": "info",
                "message": "GET /api/items",
                "data": {},
            }
        ],
        "fingerprint": ["{{ default }}"],
        "sdk": {"name": "tracebin.python", "version": "0.1.0"},
    }
    return "," + orjson.dumps(payload).decode()[1:]


def _specs(rng: random.Random, n_issues: int, n_events: int, now: int, days: int) -> list[_IssueSpec]:
    # A long tail: a few issues take most events (Zipf-like), every issue has at least one.
    weights = [1.0 / (index + 1) ** 1.1 for index in range(n_issues)]
    spare = max(0, n_events - n_issues)
    total_weight = sum(weights)
    counts = [1 + int(spare * weight / total_weight) for weight in weights]
    counts[0] += n_events - sum(counts)
    run = uuid.uuid4().hex[:8]
    specs = []
    for index in range(n_issues):
        spec_type, value = EXCEPTIONS[index % len(EXCEPTIONS)]
        area, verb = AREAS[index // 10 % len(AREAS)], VERBS[index // 100 % len(VERBS)]
        level, environment = _weighted(rng, LEVELS), _weighted(rng, ENVIRONMENTS)
        # Busy issues are old; the tail appears over the whole window.
        span = (days - 1) * 86400  # inside the detail page's 30-day chart
        age = span if index < 20 else rng.randrange(3600, span)
        specs.append(
            _IssueSpec(
                fingerprint=f"demo-{run}-{index}",
                title=f"{spec_type}: {value} (#{index})",
                culprit=f"shop.{area}.views in {verb}_{area}",
                type=spec_type,
                level=level,
                status=_weighted(rng, STATUSES),
                environment=environment,
                first_seen=now - age,
                count=counts[index],
                template=_template(spec_type, value, area, verb, level, environment),
            )
        )
    return specs


def _month(ts: int) -> int:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.year * 100 + moment.month


async def _insert_issues(db: Database, resource_id: int, specs: list[_IssueSpec], times: list[list[int]]) -> list[int]:
    sql = db.raw_sql(
        "INSERT INTO issues (resource_id, fingerprint, title, culprit, type, level, status, regressed, count,"
        " first_seen, last_seen, resolved_at, overage_hour) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
    )
    rows = [
        (
            resource_id,
            spec.fingerprint,
            spec.title,
            spec.culprit,
            spec.type,
            spec.level,
            spec.status,
            False,
            spec.count,
            times[index][0],
            times[index][-1],
            times[index][-1] + 60 if spec.status == "resolved" else None,
        )
        for index, spec in enumerate(specs)
    ]
    for start in range(0, len(rows), CHUNK):
        async with db.transaction() as conn:
            await conn.raw_connection.executemany(sql, rows[start : start + CHUNK])
    prefix = specs[0].fingerprint.rsplit("-", 1)[0] + "-"
    query = sa.select(issues_table.c.id, issues_table.c.fingerprint).where(
        issues_table.c.resource_id == resource_id, issues_table.c.fingerprint.like(prefix + "%")
    )
    async with db.connection() as conn:
        found = {str(row[1]): int(row[0]) for row in await conn.fetch_all(query)}
    return [found[spec.fingerprint] for spec in specs]


async def _write_events(db: Database, rows: list[tuple[Any, ...]]) -> None:
    async with db.transaction() as conn:
        if db.is_sqlite:
            placeholders = ", ".join("?" for _ in EVENT_COLUMNS)
            sql = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({placeholders})"
            await conn.raw_connection.executemany(sql, rows)
        else:
            await conn.raw_connection.copy_records_to_table("events", records=rows, columns=list(EVENT_COLUMNS))


async def _write_counters(db: Database, statements: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    for sql, rows in statements:
        for start in range(0, len(rows), CHUNK):
            async with db.transaction() as conn:
                await conn.raw_connection.executemany(db.raw_sql(sql), rows[start : start + CHUNK])


async def _refresh_statistics(db: Database) -> None:
    """Planner statistics after a bulk load (autovacuum would get there, minutes later)."""
    async with db.connection() as conn:
        if db.is_sqlite:
            await conn.execute("PRAGMA analysis_limit=1000")
            await conn.execute("ANALYZE")
        else:
            for table in ("issues", "events", "issue_hourly", "issue_facets", "project_hourly"):
                await conn.execute(f"VACUUM ANALYZE {table}")


async def seed_demo(
    db: Database,
    *,
    resource_id: int,
    n_issues: int = 10_000,
    n_events: int = 1_000_000,
    days: int = 30,
    now: int | None = None,
    seed: int | None = None,
) -> SeedSummary:
    """Add `n_issues` issues with `n_events` events in total (at least one each) to a resource."""
    started = time.perf_counter()
    now = int(time.time()) if now is None else now
    n_events = max(n_events, n_issues)
    rng = random.Random(seed)
    specs = _specs(rng, n_issues, n_events, now, days)
    # Event times per issue, sorted; the busiest issue's last event is "now".
    times = [sorted(rng.randrange(spec.first_seen, now + 1) for _ in range(spec.count)) for spec in specs]
    issue_ids = await _insert_issues(db, resource_id, specs, times)
    # Events go in time order, so a higher row id is a later event (what "latest event" reads).
    order = sorted((ts, index) for index, spec_times in enumerate(times) for ts in spec_times)
    issue_hourly: Counter[tuple[int, int]] = Counter()
    project_hourly: Counter[int] = Counter()
    monthly: Counter[int] = Counter()
    facets: set[tuple[int, str, str]] = set()
    month_of_day: dict[int, int] = {}
    rows: list[tuple[Any, ...]] = []
    for ts, index in order:
        spec, issue_id = specs[index], issue_ids[index]
        release = release_at(ts)
        event_id = f"{rng.getrandbits(128):032x}"
        payload = (
            f'{{"event_id":"{event_id}","timestamp":{ts}.0,"received_at":{ts},"release":"{release}"{spec.template}'
        )
        rows.append((resource_id, issue_id, event_id, ts, float(ts), spec.level, spec.environment, release, payload))
        issue_hourly[(issue_id, ts // 3600)] += 1
        project_hourly[ts // 3600] += 1
        day = ts // 86400
        if day not in month_of_day:
            month_of_day[day] = _month(ts)
        monthly[month_of_day[day]] += 1
        facets.add((issue_id, "release", release))
        if len(rows) >= CHUNK:
            await _write_events(db, rows)
            rows = []
    if rows:
        await _write_events(db, rows)
    for index, issue_id in enumerate(issue_ids):
        facets.add((issue_id, "environment", specs[index].environment))
    await _write_counters(
        db,
        [
            (
                "INSERT INTO issue_hourly (issue_id, hour, count) VALUES (?, ?, ?)",
                [(issue_id, hour, count) for (issue_id, hour), count in issue_hourly.items()],
            ),
            (
                "INSERT INTO project_hourly (resource_id, hour, count) VALUES (?, ?, ?) ON CONFLICT (resource_id, hour)"
                " DO UPDATE SET count = project_hourly.count + excluded.count",
                [(resource_id, hour, count) for hour, count in project_hourly.items()],
            ),
            (
                "INSERT INTO usage_monthly (resource_id, month, events, warned_80, warned_100) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (resource_id, month) DO UPDATE SET events = usage_monthly.events + excluded.events",
                [(resource_id, month, count, False, False) for month, count in monthly.items()],
            ),
            (
                "INSERT INTO issue_facets (resource_id, issue_id, name, value) VALUES (?, ?, ?, ?)",
                [(resource_id, issue_id, name, value) for issue_id, name, value in sorted(facets)],
            ),
        ],
    )
    await _refresh_statistics(db)
    return SeedSummary(resource_id=resource_id, issues=n_issues, events=n_events, seconds=time.perf_counter() - started)


async def seed_resource(
    settings: Settings, *, heroku_uuid: str | None, plan: str, n_issues: int, n_events: int
) -> tuple[str, SeedSummary]:
    """Seed an existing resource (by Heroku uuid) or a new demo resource; returns (uuid, summary)."""
    db = Database(settings.database_url)
    await db.connect()
    try:
        if heroku_uuid is None:
            body = {"uuid": f"demo-{uuid.uuid4()}", "plan": plan, "name": "tracebin-demo", "region": "us"}
            created = await provisioning.provision(db, settings, body)
            resource, url = created.resource, created.config[provisioning.CONFIG_VAR]
            print(f"created demo resource {resource.heroku_uuid} (TRACEBIN_URL={url})")
        else:
            from_store = await resources.get_by_uuid(db, heroku_uuid=heroku_uuid)
            if from_store is None or not from_store.is_active:
                raise SystemExit(f"no active resource {heroku_uuid}")
            resource = from_store
        summary = await seed_demo(db, resource_id=resource.id, n_issues=n_issues, n_events=n_events)
        return resource.heroku_uuid, summary
    finally:
        await db.disconnect()


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    migrate.upgrade(settings.database_url)
    heroku_uuid, summary = asyncio.run(
        seed_resource(settings, heroku_uuid=args.resource, plan=args.plan, n_issues=args.issues, n_events=args.events)
    )
    print(
        f"seeded resource {heroku_uuid}: {summary.issues:,} issues, {summary.events:,} events "
        f"in {summary.seconds:.1f} s"
    )
    print("sign in with an SSO post for this uuid (README: 'Dashboard and single sign-on')")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("seed-demo", help="fill a resource with realistic demo issues and events")
    parser.add_argument("--resource", default=None, help="Heroku uuid of an existing resource (default: create one)")
    parser.add_argument("--plan", default="pro", help="plan of a created demo resource")
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.set_defaults(func=cmd_seed_demo)
