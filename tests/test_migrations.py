"""Alembic migrations: idempotent, reversible, and equal to the SQLAlchemy tables."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.storage import migrate
from app.storage.schema import metadata
from tests.support import query


def _schema_diff(database_url: str) -> list[object]:
    def compare(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    async def run() -> list[object]:
        engine = create_async_engine(migrate.async_url(database_url))
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    assert _schema_diff(database_url) == []


def test_upgrade_is_idempotent_and_reversible(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert query.value(database_url, "SELECT version_num FROM alembic_version") is not None
    migrate.downgrade(database_url, "base")
    migrate.upgrade(database_url)
    assert _schema_diff(database_url) == []


def test_migrate_command_on_a_fresh_file(tmp_path: Path) -> None:
    env = {
        "TRACEBIN_DEV": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path}/fresh.sqlite3",
        "PATH": "/usr/bin:/bin",
    }
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-m", "app.cli", "migrate"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
    assert query.value(f"sqlite:///{tmp_path}/fresh.sqlite3", "SELECT COUNT(*) FROM resources") == 0
