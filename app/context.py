"""The application context: settings and long-lived components, built once and passed down.

`build_context` constructs every component; `AppContext.start/stop` run in the app's lifespan.
Routes reach it with `get_context(request)`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from starlette.requests import HTTPConnection

from app.services.keys import KeyCache
from app.services.ops import Operations, build_operations
from app.services.quotas import QuotaTracker
from app.services.retention import RetentionTask
from app.services.writer import IngestWriter
from app.settings import Settings
from app.storage.engine import Database
from app.storage.ingest import BatchResult

log = logging.getLogger(__name__)


class Component(Protocol):
    """A long-lived part started after the database connects and stopped before it disconnects."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class IssueActivity:
    """What one committed ingest batch did to one issue (for alerts)."""

    resource_id: int
    issue_id: int
    title: str
    level: str
    new: bool  # the batch created this issue
    regressed: bool  # the issue was resolved and got a new event
    events: int  # events of this issue in the batch
    at: int  # unix seconds of the commit


@dataclass(frozen=True, slots=True)
class UsageActivity:
    """A resource's monthly event total after a committed batch (for quota warnings)."""

    resource_id: int
    month: int  # YYYYMM
    events: int
    quota: int


BatchListener = Callable[[Sequence[IssueActivity], Sequence[UsageActivity]], Awaitable[None]]


@dataclass
class AppContext:
    settings: Settings
    db: Database
    # Called with a resource id when its key, plan or existence changed, so caches drop it at once.
    resource_listeners: list[Callable[[int], None]] = field(default_factory=list)
    # Awaited (off the request path) after every committed ingest batch.
    batch_listeners: list[BatchListener] = field(default_factory=list)
    components: list[Component] = field(default_factory=list)
    # Operations (outbox sender, alerts, status page, maintenance reminders): set by build_context.
    ops: Operations = field(init=False)
    # The consume path (set by build_context): API-key cache, group-commit writer, quota short-cuts.
    keys: KeyCache = field(init=False)
    writer: IngestWriter = field(init=False)
    quotas: QuotaTracker = field(init=False)

    async def publish_batch(self, result: BatchResult) -> None:
        """Hand a committed ingest batch to every batch listener; a failing listener is only logged."""
        if not self.batch_listeners:
            return
        issues = [
            IssueActivity(
                resource_id=c.resource_id,
                issue_id=c.issue_id,
                title=c.title,
                level=c.level,
                new=c.new,
                regressed=c.regressed,
                events=c.events,
                at=c.at,
            )
            for c in result.issues
        ]
        usage = [
            UsageActivity(resource_id=u.resource_id, month=u.month, events=u.events, quota=u.quota)
            for u in result.usage
        ]
        for listener in self.batch_listeners:
            try:
                await listener(issues, usage)
            except Exception:
                log.exception("batch listener %r failed", listener)

    def forget_resource(self, resource_id: int) -> None:
        for listener in self.resource_listeners:
            listener(resource_id)

    async def start(self) -> None:
        await self.db.connect()
        for component in self.components:
            await component.start()

    async def stop(self) -> None:
        for component in reversed(self.components):
            try:
                await component.stop()
            except Exception:
                log.exception("stopping %r failed", component)
        await self.db.disconnect()


def build_context(settings: Settings) -> AppContext:
    ctx = AppContext(settings=settings, db=Database(settings.database_url))
    ctx.ops = build_operations(ctx)
    ctx.keys = KeyCache(ctx.db, settings.key_cache_ttl)
    ctx.quotas = QuotaTracker()
    ctx.writer = IngestWriter(ctx.db, settings.ingest_queue_size, publish=ctx.publish_batch)
    ctx.writer.observers.append(ctx.quotas.observe)
    ctx.resource_listeners += [ctx.keys.forget, ctx.quotas.forget]
    ctx.components += [ctx.writer, RetentionTask(ctx.db)]
    return ctx


def get_context(request: HTTPConnection) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
