"""Support tickets opened from the dashboard and answered in the console."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.ops_tables import support_tickets


@dataclass(frozen=True)
class Ticket:
    id: int
    resource_id: int
    app_name: str
    email: str
    subject: str
    body: str
    status: str
    answer: str
    operator_id: int | None
    created_at: int
    answered_at: int | None


def _ticket(row: Mapping[str, Any]) -> Ticket:
    return Ticket(**{name: row[name] for name in Ticket.__dataclass_fields__})


async def create_ticket(
    db: Database, *, resource_id: int, app_name: str, email: str, subject: str, body: str, now: int
) -> Ticket:
    values = {
        "resource_id": resource_id,
        "app_name": app_name,
        "email": email,
        "subject": subject,
        "body": body,
        "status": "open",
        "created_at": now,
    }
    async with db.transaction() as conn:
        row = await conn.fetch_one(sa.insert(support_tickets).values(**values).returning(*support_tickets.c))
    assert row is not None
    return _ticket(row._mapping)


async def get_ticket(db: Database, *, ticket_id: int) -> Ticket | None:
    async with db.connection() as conn:
        row = await conn.fetch_one(sa.select(support_tickets).where(support_tickets.c.id == ticket_id))
    return _ticket(row._mapping) if row else None


async def list_tickets(db: Database, *, status: str | None = None, resource_id: int | None = None) -> list[Ticket]:
    query = sa.select(support_tickets).order_by(support_tickets.c.id.desc()).limit(200)
    if status is not None:
        query = query.where(support_tickets.c.status == status)
    if resource_id is not None:
        query = query.where(support_tickets.c.resource_id == resource_id)
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return [_ticket(row._mapping) for row in rows]


async def answer_ticket(db: Database, *, ticket_id: int, answer: str, operator_id: int, now: int) -> Ticket | None:
    query = (
        sa.update(support_tickets)
        .where(support_tickets.c.id == ticket_id)
        .values(answer=answer, status="solved", operator_id=operator_id, answered_at=now)
        .returning(*support_tickets.c)
    )
    async with db.transaction() as conn:
        row = await conn.fetch_one(query)
    return _ticket(row._mapping) if row else None
