"""The database handle: the backend is chosen from the URL scheme here and nowhere else.

SQLite (the single-machine default): `databases` has no pool for SQLite, so every query outside a
held connection would open a new aiosqlite thread (STACK-NOTES 1). We hold two long-lived
connections for the life of the process: one writer (all transactions, serialised by a lock: SQLite
has a single writer anyway) and one reader (WAL lets it read while the writer commits).

PostgreSQL: the asyncpg pool of `databases`, sized from `min_size`/`max_size` in the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar

import databases
from databases.core import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.schema import Table

Dialect = Literal["sqlite", "postgresql"]
T = TypeVar("T")

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # FULL: an acknowledged event survives power loss too; group commit keeps it cheap.
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
)


def dialect_of(url: str) -> Dialect:
    if url.startswith("sqlite"):
        return "sqlite"
    if url.startswith(("postgresql", "postgres")):
        return "postgresql"
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")


class Database:
    """What storage modules use to reach the database: `connection()` to read, `transaction()` to write."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect: Dialect = dialect_of(url)
        self._db = databases.Database(url)
        self._writer: Connection | None = None
        self._reader: Connection | None = None
        self._pg_writer: Connection | None = None  # PostgreSQL: held by the ingest writer
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_connected(self) -> bool:
        return bool(self._db.is_connected)

    async def connect(self) -> None:
        await self._db.connect()
        if self.is_sqlite:
            self._writer = await self._open_sqlite_connection()
            self._reader = await self._open_sqlite_connection()

    async def _open_sqlite_connection(self) -> Connection:
        # Connection objects are not bound to the task that opens them; we share them explicitly.
        conn = Connection(self._db, self._db._backend)
        await conn.__aenter__()
        for pragma in SQLITE_PRAGMAS:
            await conn.execute(pragma)
        return conn

    async def run_sqlite_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """SQLite: `work(connection)` inside one transaction, run in the writer connection's own thread.

        aiosqlite hops to its thread and back through the event loop for every statement, and under
        load each hop waits behind the requests the loop is serving; an ingest batch is a dozen
        statements. Here the whole transaction is one hop (measured: 259 → 219 µs of server CPU per
        event in `make bench`). Serialised with `transaction()` by the write lock; committed when
        `work` returns, rolled back when it raises.
        """
        if self._writer is None:
            raise RuntimeError("run_sqlite_transaction needs a connected SQLite database")
        driver = self._writer.raw_connection  # aiosqlite.Connection
        async with self._write_lock:
            # aiosqlite has no public "run this in your thread"; _execute is what its own methods use.
            result: T = await driver._execute(_in_transaction, driver._conn, work)
            return result

    @asynccontextmanager
    async def writer_transaction(self) -> AsyncIterator[Any]:
        """PostgreSQL: the ingest writer's transaction on a connection it keeps (the asyncpg driver's).

        Taking a pool connection per batch costs two extra round trips (the acquire and the reset
        query on release) while every request of the batch waits; the writer is one task per process,
        so it holds one connection of the pool for itself, serialised by the write lock. After a failed
        batch, or when it was lost while idle (a database restart), it is given back and replaced.
        """
        if self.is_sqlite:
            raise RuntimeError("writer_transaction is for PostgreSQL; SQLite uses run_sqlite_transaction")
        async with self._write_lock:
            if self._pg_writer is not None and _is_broken(self._pg_writer.raw_connection):
                await self._drop_pg_writer()  # lost while idle: replace it before the batch, not after
            if self._pg_writer is None:
                conn = Connection(self._db, self._db._backend)
                await conn.__aenter__()
                self._pg_writer = conn
            driver = self._pg_writer.raw_connection  # asyncpg.Connection
            try:
                async with driver.transaction():
                    yield driver
            except BaseException:
                # A failed batch is rare; after one, the connection's state is not trusted (asyncpg
                # reports a dropped connection in several ways, not all of them visible to is_closed()).
                await self._drop_pg_writer()
                raise

    async def _drop_pg_writer(self) -> None:
        conn, self._pg_writer = self._pg_writer, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: the pool discards it
                await conn.__aexit__()

    async def disconnect(self) -> None:
        async with self._write_lock:
            await self._drop_pg_writer()
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.__aexit__()
        self._reader = self._writer = None
        if self._db.is_connected:
            await self._db.disconnect()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection for reads (and single autocommit statements on PostgreSQL)."""
        if self._reader is not None:
            async with self._read_lock:
                yield self._reader
            return
        async with self._db.connection() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection inside a transaction: committed on exit, rolled back on any exception."""
        if self._writer is not None:
            async with self._write_lock, self._writer.transaction():
                yield self._writer
            return
        async with self._db.connection() as conn, conn.transaction():
            yield conn

    def insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        """A dialect-specific INSERT, so callers can use `.on_conflict_do_nothing/_update`."""
        if self.is_sqlite:
            return sqlite.insert(table)
        return postgresql.insert(table)

    def placeholder(self, index: int) -> str:
        """Positional placeholder for raw driver SQL (`?` on aiosqlite, `$n` on asyncpg); 1-based."""
        return "?" if self.is_sqlite else f"${index}"

    def raw_sql(self, sql: str) -> str:
        """Turn `?` placeholders into `$1, $2, ...` for asyncpg; unchanged on SQLite."""
        if self.is_sqlite:
            return sql
        parts = sql.split("?")
        return "".join(part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, start=1))

    async def ping(self) -> None:
        async with self.connection() as conn:
            await conn.fetch_val("SELECT 1")


def _is_broken(driver: Any) -> bool:
    """Whether an asyncpg connection of the pool can no longer serve (closed, or released by the pool
    when the server dropped it: the proxy then refuses every call)."""
    try:
        return bool(driver.is_closed())
    except Exception:
        return True


def _in_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


async def execute_raw_many(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """executemany on the driver connection: one round trip per batch, no SQLAlchemy compile."""
    if rows:
        await conn.raw_connection.executemany(sql, rows)
