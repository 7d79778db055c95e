"""Operator accounts and the failed-login log that throttles the console login."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.ops_tables import login_failures, operators


@dataclass(frozen=True)
class Operator:
    id: int
    username: str
    password_hash: str
    created_at: int
    last_login_at: int | None


def _operator(row: Mapping[str, Any]) -> Operator:
    return Operator(**{name: row[name] for name in Operator.__dataclass_fields__})


async def upsert_operator(db: Database, *, username: str, password_hash: str, now: int) -> Operator:
    """Create the operator, or set a new password when the username exists."""
    insert = db.insert(operators).values(username=username, password_hash=password_hash, created_at=now)
    insert = insert.on_conflict_do_update(index_elements=["username"], set_={"password_hash": password_hash})
    async with db.transaction() as conn:
        await conn.execute(insert)
        row = await conn.fetch_one(sa.select(operators).where(operators.c.username == username))
    assert row is not None
    return _operator(row._mapping)


async def get_by_username(db: Database, *, username: str) -> Operator | None:
    async with db.connection() as conn:
        row = await conn.fetch_one(sa.select(operators).where(operators.c.username == username))
    return _operator(row._mapping) if row else None


async def get_by_id(db: Database, *, operator_id: int) -> Operator | None:
    async with db.connection() as conn:
        row = await conn.fetch_one(sa.select(operators).where(operators.c.id == operator_id))
    return _operator(row._mapping) if row else None


async def set_password_hash(db: Database, *, operator_id: int, password_hash: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            sa.update(operators).where(operators.c.id == operator_id).values(password_hash=password_hash)
        )


async def touch_login(db: Database, *, operator_id: int, now: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(sa.update(operators).where(operators.c.id == operator_id).values(last_login_at=now))


async def count_failures(db: Database, *, keys: list[str], since: int) -> dict[str, int]:
    query = (
        sa.select(login_failures.c.key, sa.func.count())
        .where(login_failures.c.key.in_(keys), login_failures.c.at >= since)
        .group_by(login_failures.c.key)
    )
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    found = {str(row[0]): int(row[1]) for row in rows}
    return {key: found.get(key, 0) for key in keys}


async def oldest_failure(db: Database, *, key: str, since: int) -> int | None:
    query = sa.select(sa.func.min(login_failures.c.at)).where(login_failures.c.key == key, login_failures.c.at >= since)
    async with db.connection() as conn:
        value = await conn.fetch_val(query)
    return int(value) if value is not None else None


async def record_failure(db: Database, *, keys: list[str], now: int, prune_before: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(sa.delete(login_failures).where(login_failures.c.at < prune_before))
        for key in keys:
            await conn.execute(sa.insert(login_failures).values(key=key, at=now))


async def clear_failures(db: Database, *, key: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(sa.delete(login_failures).where(login_failures.c.key == key))
