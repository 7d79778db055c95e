"""Retention: events older than the plan keeps are purged, hourly in-process and by `tracebin-server purge`.

The periodic task also finishes purges of deprovisioned resources that a restart interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from app.plans import get_plan
from app.services import provisioning
from app.settings import Settings
from app.storage import resources as resource_store
from app.storage import retention as store
from app.storage.engine import Database

log = logging.getLogger(__name__)

INTERVAL = 3600.0
FIRST_RUN_DELAY = 60.0


@dataclass(frozen=True)
class PurgeReport:
    events: int
    issues: int
    deprovisioned: int


async def purge_expired(db: Database, now: int | None = None) -> PurgeReport:
    """Apply every active resource's retention, then finish interrupted deprovision purges."""
    now = int(time.time()) if now is None else now
    events = issues = 0
    for resource in await resource_store.list_resources(db):
        plan = get_plan(resource.plan)
        if plan is None:
            continue
        cutoff = now - plan.retention_days * 86400
        deleted_events, deleted_issues = await store.purge_resource(db, resource_id=resource.id, cutoff=cutoff)
        events += deleted_events
        issues += deleted_issues
    leftovers = await provisioning.purge_leftovers(db)
    return PurgeReport(events=events, issues=issues, deprovisioned=leftovers)


class RetentionTask:
    """A component: runs `purge_expired` shortly after start, then every INTERVAL seconds."""

    def __init__(self, db: Database, interval: float = INTERVAL, first_delay: float = FIRST_RUN_DELAY) -> None:
        self.db = db
        self.interval = interval
        self.first_delay = first_delay
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tracebin-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(self.first_delay)
        while True:
            try:
                report = await purge_expired(self.db)
                if report.events or report.issues or report.deprovisioned:
                    log.info("retention purge: %s", report)
            except Exception:
                log.exception("retention purge failed; retrying at the next interval")
            await asyncio.sleep(self.interval)


async def _purge_once(settings: Settings) -> PurgeReport:
    db = Database(settings.database_url)
    await db.connect()
    try:
        return await purge_expired(db)
    finally:
        await db.disconnect()


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    report = asyncio.run(_purge_once(settings))
    print(
        f"purged {report.events} events and {report.issues} issues past retention; "
        f"finished {report.deprovisioned} deprovisioned resources"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    purge = sub.add_parser("purge", help="delete events older than each plan's retention (also runs hourly in-process)")
    purge.set_defaults(func=cmd_purge)
