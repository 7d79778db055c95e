"""Usage counters for the usage page: monthly events, drops by day, events by hour."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.tables import drops_daily, project_hourly, usage_monthly


@dataclass(frozen=True)
class Drops:
    source: str  # 'server' (quota, ...) or 'client' (reported by the client)
    reason: str
    count: int


async def month_events(db: Database, *, resource_id: int, month: int) -> int:
    select = sa.select(usage_monthly.c.events).where(
        usage_monthly.c.resource_id == resource_id, usage_monthly.c.month == month
    )
    async with db.connection() as conn:
        return int(await conn.fetch_val(select) or 0)


async def drops_since(db: Database, *, resource_id: int, since_day: int) -> list[Drops]:
    select = (
        sa.select(drops_daily.c.source, drops_daily.c.reason, sa.func.sum(drops_daily.c.count))
        .where(drops_daily.c.resource_id == resource_id, drops_daily.c.day >= since_day)
        .group_by(drops_daily.c.source, drops_daily.c.reason)
        .order_by(drops_daily.c.source, drops_daily.c.reason)
    )
    async with db.connection() as conn:
        rows = await conn.fetch_all(select)
    return [Drops(source=str(row[0]), reason=str(row[1]), count=int(row[2] or 0)) for row in rows]


async def hourly_events(db: Database, *, resource_id: int, since_hour: int) -> dict[int, int]:
    select = sa.select(project_hourly.c.hour, project_hourly.c.count).where(
        project_hourly.c.resource_id == resource_id, project_hourly.c.hour >= since_hour
    )
    async with db.connection() as conn:
        rows = await conn.fetch_all(select)
    return {int(row[0]): int(row[1]) for row in rows}
