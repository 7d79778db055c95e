"""API-key authentication of the consume path (common.md contract 2).

Keys are stored as sha256 and looked up through a per-process cache with a short TTL
(`TRACEBIN_KEY_CACHE_TTL`, default 5 s). A plan change or deprovision in this process drops the
resource from the cache at once (`ctx.resource_listeners`); other processes notice within the TTL.
Unknown keys are cached too (briefly, bounded) so a client with a wrong key cannot hammer the DB.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import TYPE_CHECKING

from app.errors import Unauthorized
from app.http import secrets_match
from app.memo import remember
from app.services.provisioning import hash_key
from app.storage import resources as store
from app.storage.engine import Database
from app.storage.resources import Resource

if TYPE_CHECKING:
    from app.context import AppContext

MAX_NEGATIVE = 10_000

# sha256 of recently seen keys: the hash costs more than the rest of authenticating (an OpenSSL
# context per call). Holding a key in memory exposes nothing new: this process can derive every key
# from SESSION_SECRET and the stored salts anyway. Bounded (cleared when full).
_HASHES: dict[str, str] = {}
MAX_HASHES = 4096
MAX_KEY_LENGTH = 128  # our keys have 32 characters; longer made-up ones are hashed every time


class KeyCache:
    def __init__(self, db: Database, ttl: float) -> None:
        self.db = db
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Resource | None]] = {}
        self._negative = 0
        # One lookup per key at a time: when an entry expires under load, every request in flight
        # with that key used to query the database on its own (p99 of POST /exceptions: 100 ms).
        self._loading: dict[str, asyncio.Future[Resource | None]] = {}
        self._generation = 0  # bumped by forget/clear: a lookup begun before them reads again

    async def resolve(self, key_hash: str) -> Resource | None:
        """The active resource whose key has this sha256, or None."""
        entry = self._entries.get(key_hash)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        loading = self._loading.get(key_hash)
        if loading is None:
            loading = asyncio.ensure_future(self._load(key_hash))
            self._loading[key_hash] = loading
            loading.add_done_callback(functools.partial(self._loaded, key_hash))
        # shield: a caller that goes away does not cancel the lookup the others are waiting for.
        return await asyncio.shield(loading)

    async def _load(self, key_hash: str) -> Resource | None:
        while True:  # forgotten while we read: what we read may be stale, read again
            generation = self._generation
            resource = await store.get_active_by_key_hash(self.db, key_hash=key_hash)
            if generation == self._generation:
                break
        if resource is None:
            self._negative += 1
            if self._negative > MAX_NEGATIVE:  # a flood of made-up keys: start over rather than grow
                self._entries = {h: e for h, e in self._entries.items() if e[1] is not None}
                self._negative = 1
        self._entries[key_hash] = (time.monotonic() + self.ttl, resource)
        return resource

    def _loaded(self, key_hash: str, loading: asyncio.Future[Resource | None]) -> None:
        self._loading.pop(key_hash, None)
        if not loading.cancelled():
            loading.exception()  # retrieved here too: every waiter may have gone away

    def forget(self, resource_id: int) -> None:
        """Drop a resource whose key, plan or existence changed (a resource listener)."""
        self._generation += 1
        self._entries = {h: e for h, e in self._entries.items() if e[1] is None or e[1].id != resource_id}

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._negative = 0


async def authenticate(ctx: AppContext, key: str) -> Resource:
    """The resource of an API key; Unauthorized when the key is missing, unknown or revoked."""
    if not key:
        raise Unauthorized(
            "an API key is required: send it as the Basic-auth user (https://<key>@host/...)",
            headers={"WWW-Authenticate": 'Basic realm="tracebin"'},
        )
    key_hash = _HASHES.get(key)
    if key_hash is None:
        key_hash = hash_key(key)
        if len(key) <= MAX_KEY_LENGTH:
            remember(_HASHES, key, key_hash, MAX_HASHES)
    resource = await ctx.keys.resolve(key_hash)
    # The lookup went by hash; compare the stored hash in constant time all the same.
    if resource is None or resource.key_hash is None or not secrets_match(key_hash, resource.key_hash):
        raise Unauthorized("unknown or revoked API key", headers={"WWW-Authenticate": 'Basic realm="tracebin"'})
    return resource
