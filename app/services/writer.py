"""The group-commit writer: one per process, over a bounded queue (STACK-NOTES 3).

Requests put (row, future) on the queue and await the future; the writer drains up to MAX_BATCH
rows, writes them in one transaction and resolves every future after the commit — so a 202 means
the event is on disk. A full queue is refused at once (503 + Retry-After); a failed transaction
fails only its own requests (503, safe to retry). Listeners run after the commit in their own
task so they never hold up the next batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable

from app.errors import Unavailable
from app.storage import ingest as store
from app.storage.engine import Database
from app.storage.ingest import BatchResult, DropKey, EventRow

log = logging.getLogger(__name__)

MAX_BATCH = 512
# Under load the clients answered by one batch send their next events at once. Waiting three turns
# of the event loop (their replies go out, their requests are read, then prepared) lets those join
# the next batch: one commit per round of the connections instead of two half-size cohorts. In
# make bench: batches of ~50 instead of ~26, about 10 % less server CPU per event. Idle, it costs
# three loop turns (microseconds).
GATHER_TURNS = 3
Publish = Callable[[BatchResult], Awaitable[None]]
_Item = tuple[EventRow, "asyncio.Future[str]", float]  # (row, its request's future, monotonic time queued)


class IngestWriter:
    def __init__(self, db: Database, queue_size: int, publish: Publish | None = None) -> None:
        self.db = db
        self.queue_size = queue_size
        self.publish = publish
        self.pending_drops: Counter[DropKey] = Counter()
        # Called with each committed batch before its futures resolve (quota bookkeeping).
        self.observers: list[Callable[[list[EventRow], BatchResult], None]] = []
        # A plain deque and an Event: cheaper per event than asyncio.Queue, and the head can be read.
        self._queue: deque[_Item] = deque()
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def queue_depth(self) -> int:
        """Events waiting for a batch (not counting the batch being written)."""
        return len(self._queue)

    @property
    def lag_seconds(self) -> float:
        """How long the oldest waiting event has waited; 0.0 when none waits."""
        return time.monotonic() - self._queue[0][2] if self._queue else 0.0

    async def start(self) -> None:
        self._queue.clear()
        self._wakeup = asyncio.Event()  # bound to the loop that runs the writer
        # Requests make their futures on it: asyncio.get_running_loop() is a getpid() system call on
        # Python 3.11, once per event.
        self._loop = asyncio.get_running_loop()
        self._running = True
        self._task = asyncio.create_task(self._run(), name="tracebin-ingest-writer")

    async def stop(self) -> None:
        """Finish what is queued (so no accepted request is left hanging), then stop."""
        task = self._task
        if not self._running or task is None:
            return
        self._running = False  # new submissions are refused from here on
        self._wakeup.set()
        try:
            await asyncio.wait_for(task, timeout=30)
        except TimeoutError:
            log.error("the ingest writer did not drain in 30 s; stopping it")
        if self._background:
            await asyncio.wait(self._background, timeout=5)

    async def submit(self, row: EventRow) -> str:
        """Queue a row and wait for its batch to commit; returns its outcome (store.STORED, ...)."""
        if not self._running or self._loop is None:
            raise Unavailable("the ingest writer is not running", retry_after=1)
        if len(self._queue) >= self.queue_size:
            raise Unavailable("too many events in flight; retry shortly", retry_after=1)
        future: asyncio.Future[str] = self._loop.create_future()
        self._queue.append((row, future, time.monotonic()))
        self._wakeup.set()
        return await future

    def record_drop(self, key: DropKey, count: int = 1) -> None:
        """Count a dropped event; written with the next batch (the writer is woken if idle)."""
        self.pending_drops[key] += count
        self._wakeup.set()

    async def _run(self) -> None:
        queue = self._queue
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while queue:
                for _ in range(GATHER_TURNS):
                    await asyncio.sleep(0)
                await self._write([queue.popleft() for _ in range(min(len(queue), MAX_BATCH))])
            if self.pending_drops:  # drops recorded with no event to carry them (after a failure: next wake-up)
                await self._write([])
            if not self._running:
                return

    async def _write(self, batch: list[_Item]) -> None:
        drops, self.pending_drops = self.pending_drops, Counter()
        rows = [row for row, _, _ in batch]
        try:
            result = await store.write_batch(self.db, rows=rows, drops=drops, now=int(time.time()))
        except Exception:
            log.exception("ingest batch of %d events failed; its requests get 503", len(rows))
            self.pending_drops.update(drops)
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(Unavailable("the event could not be stored; retry", retry_after=1))
            return
        for observe in self.observers:
            try:
                observe(rows, result)
            except Exception:  # bookkeeping must never keep a committed event from its 202
                log.exception("ingest observer %r failed", observe)
        for (_, future, _), outcome in zip(batch, result.outcomes, strict=True):
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
