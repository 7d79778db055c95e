"""Read or write a test database directly (to check what the service stored)."""

from __future__ import annotations

import asyncio
from typing import Any

import databases


async def _run(url: str, statement: str, params: dict[str, Any], fetch: bool) -> list[dict[str, Any]]:
    async with databases.Database(url) as db:
        if fetch:
            rows = await db.fetch_all(statement, params)
            return [dict(row._mapping) for row in rows]
        await db.execute(statement, params)
        return []


def rows(url: str, statement: str, **params: Any) -> list[dict[str, Any]]:
    return asyncio.run(_run(url, statement, params, fetch=True))


def value(url: str, statement: str, **params: Any) -> Any:
    found = rows(url, statement, **params)
    return next(iter(found[0].values())) if found else None


def execute(url: str, statement: str, **params: Any) -> None:
    asyncio.run(_run(url, statement, params, fetch=False))
