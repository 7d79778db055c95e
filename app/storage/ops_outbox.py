"""The outbox of emails and webhook calls, and the opt-outs that filter non-critical mail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.ops_tables import optouts, outbox


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    channel: str
    kind: str
    resource_id: int | None
    recipient: str
    subject: str
    body: str
    headers: dict[str, str]
    status: str
    attempts: int
    next_attempt_at: int
    last_error: str
    created_at: int
    sent_at: int | None


@dataclass(frozen=True)
class NewMessage:
    channel: str
    kind: str
    recipient: str
    subject: str
    body: str
    headers: Mapping[str, str]
    resource_id: int | None = None


def _message(row: Mapping[str, Any]) -> OutboxMessage:
    values = {name: row[name] for name in OutboxMessage.__dataclass_fields__ if name != "headers"}
    return OutboxMessage(headers=orjson.loads(row["headers"]), **values)


async def enqueue(db: Database, *, messages: list[NewMessage], now: int) -> None:
    rows = [
        {
            "channel": m.channel,
            "kind": m.kind,
            "resource_id": m.resource_id,
            "recipient": m.recipient,
            "subject": m.subject,
            "body": m.body,
            "headers": orjson.dumps(dict(m.headers)).decode(),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for m in messages
    ]
    if not rows:
        return
    async with db.transaction() as conn:
        await conn.execute_many(sa.insert(outbox), rows)


async def lease_due(
    db: Database, *, now: int, channels: tuple[str, ...], lease_seconds: int, limit: int
) -> list[OutboxMessage]:
    """Pending messages due now, each leased by moving next_attempt_at forward (compare-and-set).

    Another process sees the new next_attempt_at and skips the row, so a message is sent once; if
    this process dies mid-send the lease expires and someone retries it.
    """
    query = (
        sa.select(outbox.c.id, outbox.c.next_attempt_at)
        .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now, outbox.c.channel.in_(channels))
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
    )
    async with db.connection() as conn:
        candidates = [(int(row[0]), int(row[1])) for row in await conn.fetch_all(query)]
    leased: list[OutboxMessage] = []
    for message_id, due in candidates:
        claim = (
            sa.update(outbox)
            .where(outbox.c.id == message_id, outbox.c.status == "pending", outbox.c.next_attempt_at == due)
            .values(next_attempt_at=now + lease_seconds)
            .returning(*outbox.c)
        )
        async with db.transaction() as conn:
            row = await conn.fetch_one(claim)
        if row is not None:
            leased.append(_message(row._mapping))
    return leased


async def mark_sent(db: Database, *, message_id: int, now: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == message_id)
            .values(status="sent", sent_at=now, attempts=outbox.c.attempts + 1, last_error="")
        )


async def mark_failed_attempt(db: Database, *, message_id: int, error: str, retry_at: int | None) -> None:
    """Record a failed attempt: retry at `retry_at`, or give up (status failed) when it is None."""
    values: dict[str, Any] = {"attempts": outbox.c.attempts + 1, "last_error": error[:2000]}
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    async with db.transaction() as conn:
        await conn.execute(sa.update(outbox).where(outbox.c.id == message_id).values(**values))


async def list_messages(
    db: Database, *, limit: int = 100, resource_id: int | None = None, kind: str | None = None
) -> list[OutboxMessage]:
    query = sa.select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if resource_id is not None:
        query = query.where(outbox.c.resource_id == resource_id)
    if kind is not None:
        query = query.where(outbox.c.kind == kind)
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return [_message(row._mapping) for row in rows]


async def status_counts(db: Database) -> dict[str, int]:
    query = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return {str(row[0]): int(row[1]) for row in rows}


async def add_optout(db: Database, *, email: str, kind: str, now: int) -> None:
    insert = db.insert(optouts).values(email=email, kind=kind, created_at=now).on_conflict_do_nothing()
    async with db.transaction() as conn:
        await conn.execute(insert)


async def opted_out(db: Database, *, emails: list[str], kind: str) -> set[str]:
    if not emails:
        return set()
    query = sa.select(optouts.c.email).where(optouts.c.kind == kind, optouts.c.email.in_(emails))
    async with db.connection() as conn:
        rows = await conn.fetch_all(query)
    return {str(row[0]) for row in rows}
