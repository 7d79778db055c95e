"""Resources (one per Heroku add-on instance; also the project that events belong to)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.schema import RESOURCE_OWNED
from app.storage.tables import issue_hourly, issues, resources

PURGE_CHUNK = 5_000


@dataclass(frozen=True)
class Resource:
    id: int
    heroku_uuid: str
    plan: str
    region: str
    app_name: str
    callback_url: str
    options: str
    key_salt: str | None
    key_hash: str | None
    status: str
    created_at: int
    updated_at: int
    deprovisioned_at: int | None

    @property
    def project_number(self) -> int:
        return self.id

    @property
    def is_active(self) -> bool:
        return self.status == "active"


def _resource(row: Mapping[str, Any]) -> Resource:
    return Resource(**{name: row[name] for name in Resource.__dataclass_fields__})


async def insert_if_absent(
    db: Database,
    *,
    heroku_uuid: str,
    plan: str,
    region: str,
    app_name: str,
    callback_url: str,
    options: str,
    key_salt: str,
    key_hash: str,
    now: int,
) -> Resource:
    """Create the resource unless one with this uuid exists; return whichever row won.

    The UNIQUE constraint on heroku_uuid settles concurrent retries, not a prior lookup.
    """
    values = {
        "heroku_uuid": heroku_uuid,
        "plan": plan,
        "region": region,
        "app_name": app_name,
        "callback_url": callback_url,
        "options": options,
        "key_salt": key_salt,
        "key_hash": key_hash,
        "status": "active",
        "created_at": now,
        "updated_at": now,
    }
    insert = db.insert(resources).values(**values).on_conflict_do_nothing(index_elements=["heroku_uuid"])
    async with db.transaction() as conn:
        await conn.execute(insert)
        row = await conn.fetch_one(sa.select(resources).where(resources.c.heroku_uuid == heroku_uuid))
    assert row is not None
    return _resource(row._mapping)


async def get_by_uuid(db: Database, *, heroku_uuid: str) -> Resource | None:
    async with db.connection() as conn:
        row = await conn.fetch_one(sa.select(resources).where(resources.c.heroku_uuid == heroku_uuid))
    return _resource(row._mapping) if row else None


async def get_by_id(db: Database, *, resource_id: int) -> Resource | None:
    async with db.connection() as conn:
        row = await conn.fetch_one(sa.select(resources).where(resources.c.id == resource_id))
    return _resource(row._mapping) if row else None


async def get_active_by_key_hash(db: Database, *, key_hash: str) -> Resource | None:
    query = sa.select(resources).where(resources.c.key_hash == key_hash, resources.c.status == "active")
    async with db.connection() as conn:
        row = await conn.fetch_one(query)
    return _resource(row._mapping) if row else None


async def list_resources(db: Database, *, include_deprovisioned: bool = False) -> list[Resource]:
    query = sa.select(resources).order_by(resources.c.id)
    if not include_deprovisioned:
        query = query.where(resources.c.status == "active")
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return [_resource(row._mapping) for row in rows]


async def set_plan(db: Database, *, heroku_uuid: str, plan: str, now: int) -> Resource | None:
    """Change an active resource's plan; None when there is no such active resource."""
    where = (resources.c.heroku_uuid == heroku_uuid) & (resources.c.status == "active")
    async with db.transaction() as conn:
        await conn.execute(sa.update(resources).where(where).values(plan=plan, updated_at=now))
        row = await conn.fetch_one(sa.select(resources).where(where))
    return _resource(row._mapping) if row else None


async def mark_deprovisioned(db: Database, *, heroku_uuid: str, now: int) -> Resource | None:
    """Revoke the key and mark the resource gone (its data is purged separately)."""
    async with db.transaction() as conn:
        await conn.execute(
            sa.update(resources)
            .where(resources.c.heroku_uuid == heroku_uuid, resources.c.status == "active")
            .values(status="deprovisioned", key_hash=None, key_salt=None, deprovisioned_at=now, updated_at=now)
        )
        row = await conn.fetch_one(sa.select(resources).where(resources.c.heroku_uuid == heroku_uuid))
    return _resource(row._mapping) if row else None


async def purge_resource_data(db: Database, *, resource_id: int) -> None:
    """Delete every row a resource owns, in chunks so the single writer is never held for long."""
    issue_ids = sa.select(issues.c.id).where(issues.c.resource_id == resource_id)
    async with db.transaction() as conn:
        await conn.execute(sa.delete(issue_hourly).where(issue_hourly.c.issue_id.in_(issue_ids)))
    for table in RESOURCE_OWNED:
        key = table.c[_chunk_key(table)]
        owned = table.c.resource_id == resource_id
        remaining = True
        while remaining:
            chunk = sa.select(key).where(owned).limit(PURGE_CHUNK).scalar_subquery()
            async with db.transaction() as conn:
                await conn.execute(sa.delete(table).where(owned, key.in_(chunk)))
                remaining = await conn.fetch_val(sa.select(key).where(owned).limit(1)) is not None


def _chunk_key(table: sa.Table) -> str:
    if "id" in table.c:
        return "id"
    primary = list(table.primary_key.columns)
    return primary[0].name if primary else "resource_id"


async def deprovisioned_with_data(db: Database) -> list[int]:
    """Deprovisioned resources that still own issues (a purge interrupted by a restart)."""
    query = (
        sa.select(resources.c.id)
        .where(resources.c.status == "deprovisioned")
        .where(sa.exists().where(issues.c.resource_id == resources.c.id))
    )
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return [int(row[0]) for row in rows]
