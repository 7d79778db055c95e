"""The after-run check: the database holds exactly the events the server acknowledged.

- every acknowledged event id (202) of a live resource is stored (nothing acknowledged was lost);
- every stored event id was acknowledged, or its outcome is unknown to the generator (no answer,
  5xx): nothing refused was stored behind the client's back;
- resources deprovisioned during the run own no events any more (their data was purged).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.storage.engine import Database
from app.storage.tables import events
from loadtests.scenario import LedgerFile


@dataclass(frozen=True)
class CheckResult:
    acked: int
    stored: int
    lost: dict[int, list[str]] = field(default_factory=dict)  # acknowledged but not stored
    unexpected: dict[int, list[str]] = field(default_factory=dict)  # stored, never acknowledged
    unknown_stored: int = 0  # stored with an unknown outcome at the generator (allowed)
    not_purged: dict[int, int] = field(default_factory=dict)  # deprovisioned project → events left

    @property
    def ok(self) -> bool:
        return not self.lost and not self.unexpected and not self.not_purged

    def describe(self) -> list[str]:
        lines = [
            f"acknowledged events (live resources): {self.acked}, stored: {self.stored}"
            + (
                f" (of which {self.unknown_stored} with an unknown outcome at the generator)"
                if self.unknown_stored
                else ""
            )
        ]
        lost = sum(len(ids) for ids in self.lost.values())
        unexpected = sum(len(ids) for ids in self.unexpected.values())
        if lost:
            sample = [f"{p}/{i}" for p, ids in self.lost.items() for i in ids][:5]
            lines.append(f"LOST: {lost} acknowledged event(s) not in the database, e.g. {', '.join(sample)}")
        if unexpected:
            sample = [f"{p}/{i}" for p, ids in self.unexpected.items() for i in ids][:5]
            lines.append(
                f"UNEXPECTED: {unexpected} stored event(s) that were never acknowledged, e.g. {', '.join(sample)}"
            )
        if self.not_purged:
            lines.append(f"NOT PURGED: deprovisioned projects still own events: {self.not_purged}")
        lines.append("count check: " + ("OK" if self.ok else "FAILED"))
        return lines


async def stored_event_ids(database_url: str) -> dict[int, set[str]]:
    """(project → event ids) of every stored event."""
    db = Database(database_url)
    await db.connect()
    try:
        async with db.connection() as conn:
            rows = await conn.fetch_all(sa.select(events.c.resource_id, events.c.event_id))
    finally:
        await db.disconnect()
    found: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        found[int(row[0])].add(str(row[1]))
    return found


async def delete_one_event(database_url: str, project: int, event_id: str) -> None:
    """Test hook: lose one acknowledged event on purpose, so the check can be seen to catch it."""
    db = Database(database_url)
    await db.connect()
    try:
        async with db.transaction() as conn:
            await conn.execute(sa.delete(events).where(events.c.resource_id == project, events.c.event_id == event_id))
    finally:
        await db.disconnect()


def compare(ledger: LedgerFile, stored: dict[int, set[str]]) -> CheckResult:
    lost: dict[int, list[str]] = {}
    unexpected: dict[int, list[str]] = {}
    not_purged: dict[int, int] = {}
    acked_live = 0
    stored_live = 0
    unknown_stored = 0
    for project in sorted(set(ledger.acked) | set(stored) | ledger.deprovisioned):
        have = stored.get(project, set())
        if project in ledger.unknown_projects:
            continue  # its deprovision was cut off by the end of the run: either state is right
        if project in ledger.deprovisioned:
            if have:
                not_purged[project] = len(have)
            continue
        acked = ledger.acked.get(project, set())
        acked_live += len(acked)
        stored_live += len(have)
        if missing := acked - have:
            lost[project] = sorted(missing)
        extra = have - acked
        allowed = extra & ledger.uncertain.get(project, set())
        unknown_stored += len(allowed)
        if extra - allowed:
            unexpected[project] = sorted(extra - allowed)
    return CheckResult(
        acked=acked_live,
        stored=stored_live,
        lost=lost,
        unexpected=unexpected,
        unknown_stored=unknown_stored,
        not_purged=not_purged,
    )


def check_database(database_url: str, ledger: LedgerFile) -> CheckResult:
    return compare(ledger, asyncio.run(stored_event_ids(database_url)))
