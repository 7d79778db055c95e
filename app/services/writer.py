"""The group-commit writer: one per process, over a bounded queue (STACK-NOTES 3).

Requests put (row, future) on the queue and await the future; the writer drains up to MAX_BATCH
rows, writes them in one transaction and resolves every future after the commit — so a 202 means
the event is on disk. A full queue is refused at once (503 + Retry-After); a failed transaction
fails only its own requests (503, safe to retry). Listeners run after the commit in their own
task so they never hold up the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from app.errors import Unavailable
from app.storage import ingest as store
from app.storage.engine import Database
from app.storage.ingest import BatchResult, DropKey, EventRow

log = logging.getLogger(__name__)

MAX_BATCH = 512
Publish = Callable[[BatchResult], Awaitable[None]]
_Item = tuple[EventRow, "asyncio.Future[str]"] | None  # None only wakes the writer up


class IngestWriter:
    def __init__(self, db: Database, queue_size: int, publish: Publish | None = None) -> None:
        self.db = db
        self.queue_size = queue_size
        self.publish = publish
        self.pending_drops: Counter[DropKey] = Counter()
        # Called with each committed batch before its futures resolve (quota bookkeeping).
        self.observers: list[Callable[[list[EventRow], BatchResult], None]] = []
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        self._queue = asyncio.Queue(self.queue_size)
        self._task = asyncio.create_task(self._run(), name="tracebin-ingest-writer")

    async def stop(self) -> None:
        """Finish what is queued (so no accepted request is left hanging), then stop."""
        queue, task = self._queue, self._task
        self._queue = None  # new submissions are refused from here on
        if queue is None or task is None:
            return
        self._stopping = True
        await queue.put(None)
        try:
            await asyncio.wait_for(task, timeout=30)
        except TimeoutError:
            log.error("the ingest writer did not drain in 30 s; stopping it")
        if self._background:
            await asyncio.wait(self._background, timeout=5)

    async def submit(self, row: EventRow) -> str:
        """Queue a row and wait for its batch to commit; returns its outcome (store.STORED, ...)."""
        queue = self._queue
        if queue is None:
            raise Unavailable("the ingest writer is not running", retry_after=1)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        try:
            queue.put_nowait((row, future))
        except asyncio.QueueFull:
            raise Unavailable("too many events in flight; retry shortly", retry_after=1) from None
        return await future

    def record_drop(self, key: DropKey, count: int = 1) -> None:
        """Count a dropped event; written with the next batch (the writer is woken if idle)."""
        self.pending_drops[key] += count
        if self._queue is not None and self._queue.empty():
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            items = [await queue.get()]
            while len(items) < MAX_BATCH and not queue.empty():
                items.append(queue.get_nowait())
            batch = [item for item in items if item is not None]
            if batch or self.pending_drops:
                await self._write(batch)
            if self._stopping and queue.empty():
                return

    async def _write(self, batch: list[tuple[EventRow, asyncio.Future[str]]]) -> None:
        drops, self.pending_drops = self.pending_drops, Counter()
        rows = [row for row, _ in batch]
        try:
            result = await store.write_batch(self.db, rows=rows, drops=drops, now=int(time.time()))
        except Exception:
            log.exception("ingest batch of %d events failed; its requests get 503", len(rows))
            self.pending_drops.update(drops)
            for _, future in batch:
                if not future.done():
                    future.set_exception(Unavailable("the event could not be stored; retry", retry_after=1))
            return
        for observe in self.observers:
            try:
                observe(rows, result)
            except Exception:  # bookkeeping must never keep a committed event from its 202
                log.exception("ingest observer %r failed", observe)
        for (_, future), outcome in zip(batch, result.outcomes, strict=True):
            if not future.done():  # the client may have gone away
                future.set_result(outcome)
        if self.publish is not None and (result.issues or result.usage):
            task = asyncio.create_task(self._publish(result))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _publish(self, result: BatchResult) -> None:
        assert self.publish is not None
        try:
            await self.publish(result)
        except Exception:
            log.exception("a batch listener failed")
