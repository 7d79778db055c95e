"""WAL checkpoints in their own thread (app.storage.checkpoint), on a real SQLite file."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

from app.storage import checkpoint
from app.storage.checkpoint import Checkpointer
from app.storage.engine import SQLITE_PRAGMAS, Database
from tests.support import db as dbsupport


def _rows_in_database_file(path: Path) -> int:
    """Operators in the database file itself: what checkpoints copied there, not what is only in the WAL."""
    snapshot = path.with_name("snapshot.sqlite3")
    for stale in (snapshot, snapshot.with_name("snapshot.sqlite3-wal")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(path, snapshot)
    conn = sqlite3.connect(snapshot)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM operators").fetchone()[0])
    finally:
        conn.close()


def _wait_for(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


async def test_the_writer_leaves_checkpoints_to_the_thread(tmp_path: Path, sqlite_template: Path) -> None:
    url = dbsupport.sqlite_copy(sqlite_template, tmp_path / "t.sqlite3")
    db = Database(url)
    await db.connect()
    try:
        assert db._checkpointer is not None
        async with db.connection() as conn:
            assert await conn.fetch_val("PRAGMA journal_mode") == "wal"
        assert db._writer is not None
        assert await db._writer.fetch_val("PRAGMA wal_autocheckpoint") == 0
        for i in range(checkpoint.EVERY_COMMITS):
            async with db.transaction() as conn:
                await conn.execute(
                    f"INSERT INTO operators (username, password_hash, created_at) VALUES ('a{i}', 'h', 1)"
                )
        # The twentieth commit wakes the thread, which copies the WAL into the database file.
        assert _wait_for(lambda: db._checkpointer is not None and db._checkpointer.checkpoints >= 1)
        assert _wait_for(lambda: _rows_in_database_file(tmp_path / "t.sqlite3") == checkpoint.EVERY_COMMITS)
    finally:
        await db.disconnect()
    conn2 = sqlite3.connect(tmp_path / "t.sqlite3")
    assert conn2.execute("SELECT COUNT(*) FROM operators").fetchone() == (checkpoint.EVERY_COMMITS,)
    conn2.close()


def test_a_commit_is_checkpointed_within_the_interval_and_at_stop(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "t.sqlite3"
    dbsupport.sqlite_copy(sqlite_template, path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    checkpointer = Checkpointer(str(path), SQLITE_PRAGMAS)
    checkpointer.start()
    try:
        writer.execute("INSERT INTO operators (username, password_hash, created_at) VALUES ('a', 'h', 1)")
        checkpointer.note_commit()
        assert _rows_in_database_file(path) == 0  # in the WAL only
        # One commit does not wake the thread, the interval does.
        assert _wait_for(lambda: _rows_in_database_file(path) == 1, timeout=checkpoint.MAX_INTERVAL * 5)
        writer.execute("INSERT INTO operators (username, password_hash, created_at) VALUES ('b', 'h', 1)")
        checkpointer.note_commit()
    finally:
        checkpointer.stop()  # the last checkpoint
    assert _rows_in_database_file(path) == 2
    writer.close()
