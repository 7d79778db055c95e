"""Quotas: what this process knows of monthly usage, to refuse over-quota events cheaply.

The rules themselves are applied exactly inside the ingest transaction (app.storage.ingest):
past the plan's monthly events, the first event of a new issue and one event per issue per hour
are still stored, everything else is refused (429) and counted in drops_daily. This tracker only
short-cuts the obvious refusals — an issue already refused this hour while the resource is over
quota — so a flood past the quota never reaches the database. Plan changes reach it at once
through the key cache (the quota travels with each event).
"""

from __future__ import annotations

from app.errors import RateLimited
from app.storage.ingest import OVER_QUOTA, BatchResult, EventRow, month_of

MAX_REFUSED = 100_000


class QuotaTracker:
    def __init__(self) -> None:
        self._usage: dict[tuple[int, int], int] = {}  # (resource_id, month) -> events stored
        self._refused: dict[tuple[int, str], int] = {}  # (resource_id, fingerprint) -> hour refused

    def refuses(self, resource_id: int, fingerprint: str, quota: int, now: int) -> bool:
        """True when the batch would certainly refuse this event: skip the queue."""
        if self._usage.get((resource_id, month_of(now)), 0) < quota:
            return False
        return self._refused.get((resource_id, fingerprint)) == now // 3600

    def observe(self, rows: list[EventRow], result: BatchResult) -> None:
        """Learn from a committed batch (a writer observer)."""
        for usage in result.usage:
            self._usage[(usage.resource_id, usage.month)] = usage.events
        if len(self._refused) > MAX_REFUSED:
            self._refused.clear()
        for row, outcome in zip(rows, result.outcomes, strict=True):
            if outcome == OVER_QUOTA:
                # A refusal means this hourly trickle is used up for this hour.
                self._refused[(row.resource_id, row.fingerprint)] = row.received_at // 3600
                key = (row.resource_id, month_of(row.received_at))
                self._usage[key] = max(self._usage.get(key, 0), row.quota)

    def forget(self, resource_id: int) -> None:
        """A plan change or deprovision: start over for this resource (a resource listener)."""
        self._usage = {k: v for k, v in self._usage.items() if k[0] != resource_id}
        self._refused = {k: v for k, v in self._refused.items() if k[0] != resource_id}


def quota_exceeded(now: int) -> RateLimited:
    """The refusal; retrying makes sense next hour, when each issue gets its trickle event again."""
    retry_after = max(1, 3600 - now % 3600)
    return RateLimited(
        "monthly event quota of your plan is used up; upgrade the plan or wait for next month",
        retry_after=retry_after,
        headers={"X-Sentry-Rate-Limits": f"{retry_after}::organization:quota_exceeded"},
    )
