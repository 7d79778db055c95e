"""The database handle: SQLite's one-hop transactions in the writer's thread."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from app.storage.engine import Database
from tests.support import db as dbsupport


@pytest.fixture
async def sqlite_db(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    db = Database(dbsupport.sqlite_copy(sqlite_template, tmp_path / "tracebin.sqlite3"))
    await db.connect()
    try:
        yield db
    finally:
        await db.disconnect()


async def drop_counts(db: Database) -> list[int]:
    async with db.connection() as conn:
        return [row[0] for row in await conn.fetch_all("SELECT count FROM drops_daily ORDER BY count")]


def add_drop(conn: sqlite3.Connection, count: int) -> str:
    conn.execute(
        "INSERT INTO drops_daily (resource_id, day, source, reason, count) VALUES (1, 1, 's', ?, ?)",
        (str(count), count),
    )
    return threading.current_thread().name


async def test_sqlite_transaction_commits_and_runs_off_the_event_loop(sqlite_db: Database) -> None:
    thread = await sqlite_db.run_sqlite_transaction(lambda conn: add_drop(conn, 7))
    assert thread != threading.current_thread().name
    assert await drop_counts(sqlite_db) == [7]


async def test_sqlite_transaction_rolls_back_when_the_work_raises(sqlite_db: Database) -> None:
    def fail(conn: sqlite3.Connection) -> None:
        add_drop(conn, 1)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await sqlite_db.run_sqlite_transaction(fail)
    await sqlite_db.run_sqlite_transaction(lambda conn: add_drop(conn, 2))  # the connection is usable again
    assert await drop_counts(sqlite_db) == [2]


async def test_sqlite_transaction_waits_for_the_write_lock(sqlite_db: Database) -> None:
    async with sqlite_db.transaction() as conn:
        await conn.execute(
            "INSERT INTO drops_daily (resource_id, day, source, reason, count) VALUES (1, 1, 's', 'a', 1)"
        )
        waiting = asyncio.create_task(sqlite_db.run_sqlite_transaction(lambda conn: add_drop(conn, 3)))
        await asyncio.sleep(0.05)
        assert not waiting.done()
    await waiting
    assert await drop_counts(sqlite_db) == [1, 3]


async def test_sqlite_transaction_needs_sqlite(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        await Database(f"sqlite:///{tmp_path}/never-connected.sqlite3").run_sqlite_transaction(lambda conn: None)


@pytest.mark.postgres
async def test_postgres_writer_connection_is_replaced_after_the_database_drops_it(postgres_url: str) -> None:
    db = Database(postgres_url)
    await db.connect()
    try:
        async with db.writer_transaction() as driver:
            pid = await driver.fetchval("SELECT pg_backend_pid()")
        async with db.writer_transaction() as driver:  # kept: the same backend serves the next batch
            assert await driver.fetchval("SELECT pg_backend_pid()") == pid
        async with db.connection() as conn:
            await conn.execute(f"SELECT pg_terminate_backend({int(pid)})")
            for _ in range(100):  # until the backend is really gone
                if not await conn.fetch_val(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {int(pid)}"):
                    break
                await asyncio.sleep(0.05)
        # The batch that meets the dropped connection may fail (its requests get 503 and retry),
        # unless the loss was already seen; either way the next batch runs on a new backend.
        with contextlib.suppress(
            asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError, OSError
        ):
            async with db.writer_transaction() as driver:
                await driver.fetchval("SELECT 1")
        async with db.writer_transaction() as driver:
            assert await driver.fetchval("SELECT pg_backend_pid()") != pid
    finally:
        await db.disconnect()


@pytest.mark.postgres
async def test_postgres_writer_rolls_back_a_failed_batch_and_serves_the_next(postgres_url: str) -> None:
    db = Database(postgres_url)
    await db.connect()
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            async with db.writer_transaction() as driver:
                await driver.execute(
                    "INSERT INTO drops_daily (resource_id, day, source, reason, count) VALUES (1, 1, 's', 'x', 1)"
                )
                await driver.execute("SELECT * FROM no_such_table")
        async with db.writer_transaction() as driver:
            assert await driver.fetchval("SELECT count(*) FROM drops_daily WHERE reason = 'x'") == 0
    finally:
        await db.disconnect()
