"""Real databases for tests: a migrated SQLite file per test, one migrated PostgreSQL database per run."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import asyncpg
import pytest

from app.storage import migrate
from app.storage.schema import metadata

POSTGRES_ENV = "TRACEBIN_TEST_POSTGRES_URL"
REQUIRE_ENV = "TRACEBIN_REQUIRE_POSTGRES"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES


def postgres_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1" or os.environ.get("CI") == "true"


async def _execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def postgres_unavailable_reason() -> str | None:
    try:
        asyncio.run(_execute(postgres_admin_url(), "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"no PostgreSQL reachable at {postgres_admin_url()} ({exc.__class__.__name__}: {exc})"
    return None


def create_postgres_database(name: str) -> str:
    """Drop and create database `name` next to the admin URL's database; return its URL, migrated."""
    admin = postgres_admin_url()
    base, _, _ = admin.rpartition("/")
    asyncio.run(_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'))
    url = f"{base}/{name}"
    migrate.upgrade(url)
    return url


def drop_postgres_database(name: str) -> None:
    asyncio.run(_execute(postgres_admin_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def truncate_postgres(url: str) -> None:
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    asyncio.run(_execute(url, f"TRUNCATE {names} RESTART IDENTITY"))


def skip_or_fail_without_postgres() -> None:
    reason = postgres_unavailable_reason()
    if reason is None:
        return
    if postgres_required():
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(reason)


def sqlite_copy(template: Path, target: Path) -> str:
    """A fresh migrated SQLite database (copied from a template migrated once per run)."""
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"
