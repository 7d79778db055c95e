"""A background loop for the operations components: runs `tick()` when woken or every `interval`.

Stopping waits for the current tick to finish (up to STOP_TIMEOUT) instead of cancelling it in the
middle of a database transaction, which would leave the connection in use when the database
disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0


class BackgroundLoop:
    name = "background-loop"

    def __init__(self, *, interval: float) -> None:
        self.interval = interval
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping

    def wake(self) -> None:
        self._wake.set()

    async def tick(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
        if not done:
            log.warning("%s did not finish in %.0f s; cancelling it", self.name, STOP_TIMEOUT)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.tick()
            except Exception:  # the database may be down: try again at the next tick
                log.exception("%s: tick failed", self.name)
            if self._stopping:
                return
            # asyncio.timeout, not wait_for: no task per wait (the alerts loop wakes after every ingest batch).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            self._wake.clear()
