"""Ingest rules (common.md contract 3): validate, normalise, scrub, group, quota, commit."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import orjson

from app.context import AppContext
from app.errors import BadRequest, PayloadTooLarge
from app.plans import get_plan
from app.services import event_format, grouping
from app.services.quotas import quota_exceeded
from app.storage import ingest as store
from app.storage.ingest import DropKey, EventRow
from app.storage.resources import Resource

MAX_STORED_PAYLOAD = 1024 * 1024
MAX_CLIENT_DROPS = 1_000_000  # per reason and report; a bigger number is a broken client


def _quota(resource: Resource) -> int:
    plan = get_plan(resource.plan)
    return plan.events_per_month if plan else 0


def _column(text: str, limit: int) -> str:
    """A value for an indexed text column: PostgreSQL refuses NUL characters and over-long values."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text[:limit]


def prepare(resource: Resource, event: Any, now: int) -> EventRow:
    """The row to store for an event body (pure: no I/O). BadRequest / PayloadTooLarge."""
    normalised = event_format.normalise(event, received_at=now)  # also scrubs (scrubbing's rules)
    grouped = grouping.group(normalised)
    try:
        payload = orjson.dumps(normalised)
    except orjson.JSONEncodeError as exc:  # e.g. an integer past 64 bits deep inside `extra`
        raise BadRequest(f"the event cannot be stored as JSON: {exc}") from None
    if len(payload) > MAX_STORED_PAYLOAD:
        raise PayloadTooLarge("the event is larger than 1 MiB once normalised")
    return EventRow(
        resource_id=resource.id,
        event_id=normalised["event_id"],
        fingerprint=grouped.fingerprint,
        title=_column(grouped.title, 512),
        culprit=_column(grouped.culprit, 512),
        type=_column(grouped.type, 255),
        level=normalised["level"],
        timestamp=normalised["timestamp"],
        received_at=now,
        environment=_column(normalised["environment"], 64),
        release=_column(normalised["release"], 128),
        payload=payload.decode(),
        quota=_quota(resource),
    )


async def ingest_event(ctx: AppContext, resource: Resource, event: dict[str, Any]) -> str:
    """Store one native event and return its id once committed.

    A repeated event_id is acknowledged again without being stored or counted twice. Raises
    BadRequest, PayloadTooLarge, RateLimited (quota) or Unavailable (queue full, batch failed).
    """
    now = int(time.time())
    row = prepare(resource, event, now)
    if ctx.quotas.refuses(resource.id, row.fingerprint, row.quota, now):
        ctx.writer.record_drop((resource.id, now // 86400, "server", "quota"))
        raise quota_exceeded(now)
    outcome = await ctx.writer.submit(row)
    if outcome == store.OVER_QUOTA:
        raise quota_exceeded(now)
    return row.event_id


async def record_client_drops(ctx: AppContext, resource: Resource, drops: list[tuple[str, int]]) -> None:
    """Count events a client reports it discarded (reason, quantity) in drops_daily, source 'client'."""
    day = int(time.time()) // 86400
    counts: Counter[DropKey] = Counter()
    for reason, quantity in drops:
        if not reason or len(reason) > 64:
            raise BadRequest("a drop reason must be 1 to 64 characters", field="reason")
        if quantity < 0 or quantity > MAX_CLIENT_DROPS:
            raise BadRequest(f"a drop quantity must be between 0 and {MAX_CLIENT_DROPS}", field="quantity")
        if quantity:
            counts[(resource.id, day, "client", reason)] += quantity
    if counts:
        await store.add_drops(ctx.db, drops=counts)
