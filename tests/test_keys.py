"""The API-key cache of the consume path, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from app.services import provisioning
from app.services.keys import KeyCache
from app.storage import resources
from app.storage.engine import Database
from tests.conftest import make_settings


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.connect()
    try:
        yield database
    finally:
        await database.disconnect()


async def new_key_hash(db: Database) -> tuple[int, str]:
    resource = (
        await provisioning.provision(db, make_settings(db.url), {"uuid": str(uuid.uuid4()), "plan": "hobby"})
    ).resource
    assert resource.key_hash is not None
    return resource.id, resource.key_hash


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The key hashes the cache asked the database for (the real query still runs)."""
    seen: list[str] = []
    real = resources.get_active_by_key_hash

    async def counted(db: Database, *, key_hash: str) -> resources.Resource | None:
        seen.append(key_hash)
        return await real(db, key_hash=key_hash)

    monkeypatch.setattr(resources, "get_active_by_key_hash", counted)
    return seen


async def test_concurrent_misses_share_one_lookup(db: Database, lookups: list[str]) -> None:
    resource_id, key_hash = await new_key_hash(db)
    cache = KeyCache(db, ttl=60)
    found = await asyncio.gather(*(cache.resolve(key_hash) for _ in range(50)), cache.resolve("0" * 64))
    assert [r.id if r else None for r in found] == [resource_id] * 50 + [None]
    assert sorted(lookups) == sorted([key_hash, "0" * 64])
    await cache.resolve(key_hash)  # cached now
    assert len(lookups) == 2


async def test_an_expired_entry_is_read_again(db: Database, lookups: list[str]) -> None:
    _, key_hash = await new_key_hash(db)
    cache = KeyCache(db, ttl=0)
    await cache.resolve(key_hash)
    await cache.resolve(key_hash)
    assert lookups == [key_hash, key_hash]


async def test_a_resource_forgotten_during_its_lookup_is_read_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource_id, key_hash = await new_key_hash(db)
    started, go_on = asyncio.Event(), asyncio.Event()
    reads: list[str] = []
    real = resources.get_active_by_key_hash

    async def slow(db: Database, *, key_hash: str) -> resources.Resource | None:
        reads.append(key_hash)
        started.set()
        await go_on.wait()
        return await real(db, key_hash=key_hash)

    monkeypatch.setattr(resources, "get_active_by_key_hash", slow)
    cache = KeyCache(db, ttl=60)
    pending = asyncio.create_task(cache.resolve(key_hash))
    await started.wait()
    cache.forget(resource_id)  # e.g. a plan change: what the first read returns may be stale
    go_on.set()
    assert (await pending) is not None
    assert reads == [key_hash, key_hash]


async def test_a_caller_that_goes_away_does_not_cancel_the_others(db: Database) -> None:
    resource_id, key_hash = await new_key_hash(db)
    cache = KeyCache(db, ttl=60)
    impatient = asyncio.create_task(cache.resolve(key_hash))
    patient = asyncio.create_task(cache.resolve(key_hash))
    await asyncio.sleep(0)
    impatient.cancel()
    resource = await patient
    assert resource is not None and resource.id == resource_id
