"""The usage page: this month's events against the plan, a projection, drops and retention."""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from app.plans import Plan, get_plan
from app.storage import usage as store
from app.storage.engine import Database
from app.storage.resources import Resource
from app.storage.usage import Drops


@dataclass(frozen=True)
class UsageReport:
    plan: Plan
    month: int  # YYYYMM
    events: int
    projected: int
    percent: float
    dropped_by_quota: int
    dropped_by_clients: int
    drops: list[Drops]
    daily: list[tuple[int, int]]  # (day, events), last 30 days


def month_of(now: int) -> int:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.year * 100 + moment.month


def _month_bounds(now: int) -> tuple[int, int]:
    moment = datetime.fromtimestamp(now, UTC)
    start = int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp())
    days = calendar.monthrange(moment.year, moment.month)[1]
    return start, start + days * 86400


def project(events: int, now: int) -> int:
    """Events expected by the end of the month at this month's rate so far."""
    start, end = _month_bounds(now)
    elapsed = max(now - start, 3600)  # an hour at least, so day one does not explode the estimate
    return int(events * (end - start) / elapsed)


async def report(db: Database, resource: Resource, *, now: int | None = None) -> UsageReport:
    now = int(time.time()) if now is None else now
    plan = get_plan(resource.plan) or get_plan("hobby")
    assert plan is not None
    month = month_of(now)
    events = await store.month_events(db, resource_id=resource.id, month=month)
    month_start, _ = _month_bounds(now)
    drops = await store.drops_since(db, resource_id=resource.id, since_day=month_start // 86400)
    first_day = now // 86400 - 29
    hours = await store.hourly_events(db, resource_id=resource.id, since_hour=first_day * 24)
    days: dict[int, int] = {}
    for hour, count in hours.items():
        days[hour // 24] = days.get(hour // 24, 0) + count
    return UsageReport(
        plan=plan,
        month=month,
        events=events,
        projected=project(events, now),
        percent=round(100.0 * events / plan.events_per_month, 1) if plan.events_per_month else 0.0,
        dropped_by_quota=sum(d.count for d in drops if d.source == "server"),
        dropped_by_clients=sum(d.count for d in drops if d.source == "client"),
        drops=drops,
        daily=[(day, days.get(day, 0)) for day in range(first_day, first_day + 30)],
    )
