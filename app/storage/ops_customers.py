"""What operations read of customers: notification contacts, monthly usage, quota-warning flags."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.tables import contacts, resources, usage_monthly


@dataclass(frozen=True)
class Contact:
    resource_id: int
    email: str
    app_name: str


@dataclass(frozen=True)
class ResourceUsage:
    resource_id: int
    heroku_uuid: str
    app_name: str
    plan: str
    status: str
    created_at: int
    events_this_month: int
    contacts: int


async def active_contacts(db: Database, *, resource_ids: list[int] | None = None) -> list[Contact]:
    """The contacts of active resources (all of them, or those listed)."""
    query = (
        sa.select(contacts.c.resource_id, contacts.c.email, resources.c.app_name)
        .join(resources, resources.c.id == contacts.c.resource_id)
        .where(resources.c.status == "active")
        .order_by(contacts.c.resource_id, contacts.c.email)
    )
    if resource_ids is not None:
        query = query.where(contacts.c.resource_id.in_(resource_ids))
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return [Contact(resource_id=int(row[0]), email=str(row[1]), app_name=str(row[2])) for row in rows]


async def resource_usage(db: Database, *, month: int, resource_id: int | None = None) -> list[ResourceUsage]:
    contact_count = (
        sa.select(sa.func.count())
        .where(contacts.c.resource_id == resources.c.id)
        .correlate(resources)
        .scalar_subquery()
    )
    query = (
        sa.select(
            resources.c.id,
            resources.c.heroku_uuid,
            resources.c.app_name,
            resources.c.plan,
            resources.c.status,
            resources.c.created_at,
            sa.func.coalesce(usage_monthly.c.events, 0),
            contact_count,
        )
        .select_from(
            resources.outerjoin(
                usage_monthly, (usage_monthly.c.resource_id == resources.c.id) & (usage_monthly.c.month == month)
            )
        )
        .order_by(resources.c.id)
    )
    if resource_id is not None:
        query = query.where(resources.c.id == resource_id)
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return [
        ResourceUsage(
            resource_id=int(row[0]),
            heroku_uuid=str(row[1]),
            app_name=str(row[2]),
            plan=str(row[3]),
            status=str(row[4]),
            created_at=int(row[5]),
            events_this_month=int(row[6]),
            contacts=int(row[7]),
        )
        for row in rows
    ]


async def claim_quota_warning(db: Database, *, resource_id: int, month: int, level: int) -> bool:
    """Set warned_80 / warned_100 if it was not set; True for the one caller that flipped it."""
    column = usage_monthly.c.warned_80 if level == 80 else usage_monthly.c.warned_100
    query = (
        sa.update(usage_monthly)
        .where(usage_monthly.c.resource_id == resource_id, usage_monthly.c.month == month, column == sa.false())
        .values({column.name: True})
        .returning(usage_monthly.c.resource_id)
    )
    async with db.transaction() as conn:
        return await conn.fetch_val(query) is not None
