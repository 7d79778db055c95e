"""The group-commit writer and retention, driven through the services on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.context import AppContext, build_context
from app.errors import Unavailable
from app.services import ingest, provisioning
from app.services.retention import purge_expired
from app.services.status import ingest_queue
from app.storage.resources import Resource
from tests.conftest import make_settings
from tests.support.server import settings_env


@contextlib.asynccontextmanager
async def started(database_url: str, **overrides: Any) -> AsyncIterator[AppContext]:
    context = build_context(make_settings(database_url, **overrides))
    await context.start()
    try:
        yield context
    finally:
        await context.stop()


@pytest.fixture
async def ctx(database_url: str) -> AsyncIterator[AppContext]:
    async with started(database_url) as context:
        yield context


async def new_resource(ctx: AppContext, plan: str = "hobby") -> Resource:
    return (await provisioning.provision(ctx.db, ctx.settings, {"uuid": str(uuid.uuid4()), "plan": plan})).resource


def event(type_: str = "ValueError", **fields: Any) -> dict[str, Any]:
    return {
        "exception": [{"type": type_, "value": "v", "frames": [{"function": "f", "module": "m", "in_app": True}]}],
        **fields,
    }


async def fetch(ctx: AppContext, query: str) -> list[tuple[Any, ...]]:
    async with ctx.db.connection() as conn:
        return [tuple(row._mapping.values()) for row in await conn.fetch_all(query)]


async def test_full_queue_answers_503_and_accepted_events_still_commit(database_url: str) -> None:
    async with started(database_url, ingest_queue_size=1) as ctx:
        await _fill_the_queue(ctx)


async def _fill_the_queue(ctx: AppContext) -> None:
    resource = await new_resource(ctx)
    await ingest.ingest_event(ctx, resource, event())
    locked, release = asyncio.Event(), asyncio.Event()

    async def hold_the_issue_row() -> None:
        # Blocks the writer: the SQLite write lock, or the issue's row lock on PostgreSQL.
        async with ctx.db.transaction() as conn:
            await conn.execute("UPDATE issues SET count = count")
            locked.set()
            await release.wait()

    blocker = asyncio.create_task(hold_the_issue_row())
    await locked.wait()
    attempts = [asyncio.create_task(ingest.ingest_event(ctx, resource, event())) for _ in range(5)]
    await asyncio.sleep(0.2)
    refused = [task for task in attempts if task.done() and isinstance(task.exception(), Unavailable)]
    assert refused, "a full queue must refuse at once"
    assert refused[0].exception().headers == {"Retry-After": "1"}  # type: ignore[union-attr]
    release.set()
    await blocker
    accepted = [task for task in attempts if task not in refused]
    ids = await asyncio.gather(*accepted)
    assert 1 <= len(ids) <= 2  # one in the writer, one in the queue of size 1
    [(count,)] = await fetch(ctx, "SELECT count FROM issues")
    assert count == 1 + len(ids)
    assert len(await fetch(ctx, "SELECT id FROM events")) == 1 + len(ids)


@contextlib.asynccontextmanager
async def writer_held(ctx: AppContext) -> AsyncIterator[None]:
    """Keeps the writer from committing (the SQLite write lock, or an issue row lock on PostgreSQL)."""
    locked, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with ctx.db.transaction() as conn:
            await conn.execute("UPDATE issues SET count = count")
            locked.set()
            await release.wait()

    blocker = asyncio.create_task(hold())
    await locked.wait()
    try:
        yield
    finally:
        release.set()
        await blocker


def submit_later(ctx: AppContext, resource: Resource, count: int) -> list[asyncio.Task[str]]:
    return [asyncio.create_task(ingest.ingest_event(ctx, resource, event())) for _ in range(count)]


async def test_queue_depth_and_lag_tell_how_far_behind_the_writer_is(ctx: AppContext) -> None:
    resource = await new_resource(ctx)
    await ingest.ingest_event(ctx, resource, event())  # the issue exists: its row can be held
    assert (ctx.writer.queue_depth, ctx.writer.lag_seconds) == (0, 0.0)
    async with writer_held(ctx):
        in_writer = submit_later(ctx, resource, 1)
        await asyncio.sleep(0.05)  # taken as a batch of one, which waits for the lock
        assert ctx.writer.queue_depth == 0
        waiting = submit_later(ctx, resource, 3)
        await asyncio.sleep(0.05)
        assert ctx.writer.queue_depth == 3
        lag = ctx.writer.lag_seconds
        assert lag >= 0.04
        waiting += submit_later(ctx, resource, 1)
        await asyncio.sleep(0.05)
        assert ctx.writer.queue_depth == 4
        assert ctx.writer.lag_seconds >= lag + 0.04  # still the oldest event's age
    await asyncio.gather(*in_writer, *waiting)
    assert (ctx.writer.queue_depth, ctx.writer.lag_seconds) == (0, 0.0)


async def test_status_page_reads_the_writer_queue(database_url: str) -> None:
    async with started(database_url, ingest_queue_size=5) as ctx:
        resource = await new_resource(ctx)
        await ingest.ingest_event(ctx, resource, event())
        assert ingest_queue(ctx) == (0, 5, 0.0)
        async with writer_held(ctx):
            pending = submit_later(ctx, resource, 1)
            await asyncio.sleep(0.05)
            pending += submit_later(ctx, resource, 4)
            await asyncio.sleep(0.05)
            depth, capacity, lag = ingest_queue(ctx)
            assert (depth, capacity) == (4, 5) and lag > 0
            report = await ctx.ops.status.report()
            ingestion = next(c for c in report.components if c.name == "ingestion")
            assert ingestion.state == "degraded"
            assert ingestion.notes == ("The ingest queue is 80 % full.",)
        await asyncio.gather(*pending)


async def test_failed_batch_fails_only_its_own_requests(ctx: AppContext) -> None:
    resource = await new_resource(ctx)
    now = int(time.time())
    good = ingest.prepare(resource, event("Good"), now)
    bad = ingest.prepare(resource, event("Bad"), now)
    bad.payload = '{"x": "\ud800"}'  # no driver can encode a lone surrogate: the transaction fails
    results = await asyncio.gather(ctx.writer.submit(good), ctx.writer.submit(bad), return_exceptions=True)
    assert all(isinstance(result, Unavailable) for result in results), results
    # Nothing of the failed batch is left behind...
    assert await fetch(ctx, "SELECT id FROM events") == []
    assert await fetch(ctx, "SELECT id FROM issues") == []
    assert await fetch(ctx, "SELECT events FROM usage_monthly") == []
    # ...and the writer goes on with the next batch (the client's retry).
    assert await ctx.writer.submit(good) == "stored"
    assert await fetch(ctx, "SELECT type, count FROM issues") == [("Good", 1)]


async def test_retention_purges_old_events_and_keeps_counters(ctx: AppContext, database_url: str) -> None:
    resource = await new_resource(ctx, plan="hobby")  # 7 days
    now = int(time.time())
    old = now - 10 * 86400
    for type_, at in (("Gone", old), ("Kept", old), ("Kept", now)):
        assert await ctx.writer.submit(ingest.prepare(resource, event(type_), at)) == "stored"

    report = await purge_expired(ctx.db, now=now)
    assert (report.events, report.issues) == (2, 1)
    assert await fetch(ctx, "SELECT type, count FROM issues") == [("Kept", 2)]  # its count is history, not stock
    assert len(await fetch(ctx, "SELECT id FROM events")) == 1
    assert await fetch(ctx, "SELECT hour FROM issue_hourly") == [(now // 3600,)]
    assert await fetch(ctx, "SELECT hour FROM project_hourly") == [(now // 3600,)]
    assert (await purge_expired(ctx.db, now=now)).events == 0


def test_purge_command(database_url: str) -> None:
    env = {**settings_env(make_settings(database_url)), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "purge"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "purged 0 events" in done.stdout
