"""Delivery: daemon sender threads over a bounded memory queue, backed by the on-disk spool.

The calling thread only appends to a deque (atomic, no lock) and sets an event. The senders
prepare events (before_send, scrubbing, JSON, gzip), post them over keep-alive connections, and
on trouble keep them: network errors and 5xx back off exponentially with jitter, 429/503 wait for
Retry-After, and while they wait everything goes to the spool. 413 resends a trimmed copy.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Union

from tracebin import _drops
from tracebin._drops import DropCounter
from tracebin._guard import logger, report_internal_error
from tracebin._payload import encode, trim
from tracebin._spool import Spool
from tracebin._transport import HttpTransport, Reply

BACKOFF_BASE = 0.5
BACKOFF_MAX = 30.0
MAX_RETRY_AFTER = 300.0  # a quota answer may say "next month": look again (new issues get through) sooner
MAX_SERVER_FAILURES = 5  # 5xx answers for one event before it is counted as a send error
REPORT_INTERVAL = 30.0  # seconds between client reports while events are being dropped
GZIP_MIN = 512
SENDERS = 4  # threads (connections) per process

Prepare = Callable[[dict[str, Any]], Union[bytes, None]]


class Spooled:
    """An event already prepared (scrubbed JSON), read back from the spool."""

    __slots__ = ("body", "path")

    def __init__(self, body: bytes, path: str) -> None:
        self.body = body
        self.path = path


Item = Union[dict[str, Any], Spooled]


class Worker:
    """`senders` daemon threads, each with its own keep-alive connection, over one queue and spool.

    Several connections let the server's group commit batch our events (one connection waits for
    one commit per event).
    """

    def __init__(
        self,
        connect: Callable[[], HttpTransport] | None,
        spool: Spool,
        drops: DropCounter,
        prepare: Prepare,
        queue_size: int,
        senders: int = SENDERS,
    ) -> None:
        self.connect = connect
        self.spool = spool
        self.drops = drops
        self.prepare = prepare
        self.queue_size = queue_size
        self.senders = senders
        self._reset_state()

    def _reset_state(self) -> None:
        self.queue: deque[Item] = deque()
        self._wake = threading.Event()
        self._cv = threading.Condition(threading.Lock())  # guards the counters below
        self._report_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._pid = os.getpid()
        self._inflight: dict[int, Item] = {}  # thread id -> the item it is delivering
        self._flushes = 0  # callers waiting in flush()
        self._retry_now = False  # a flush asked for one more attempt despite the backoff
        self._step_no = 0  # steps of the sender loops begun
        self._settled = 0  # the last step that found nothing left it could deliver now
        self._failing = False  # that step gave up after a failed attempt (flush returns False)
        self._resume_at = 0.0
        self._failures = 0
        self._server_failures: dict[str, int] = {}
        self._last_report = 0.0
        self._stopped = False

    def after_fork(self) -> None:
        """In a forked child: a fresh, empty queue and new threads (started on demand).

        The parent's queued events stay the parent's; the child's sockets are its own.
        """
        self._reset_state()
        self.spool.after_fork()
        self.drops.after_fork()

    # -- calling thread ------------------------------------------------------------------------

    def submit(self, event: dict[str, Any]) -> None:
        if len(self.queue) >= self.queue_size:
            self._spill(event)
            return
        self.queue.append(event)
        if not self._threads or self._pid != os.getpid():
            self._start()
        self._wake.set()

    def _spill(self, event: dict[str, Any]) -> None:
        """The memory queue is full: the event goes to disk now, from the calling thread."""
        body = self.prepare(event)
        if body is not None and not self.spool.put(body):
            self.drops.add(_drops.QUEUE_FULL)
        self._wake.set()

    def _start(self) -> bool:
        with self._cv:
            if self._stopped or self.connect is None:
                return False
            if self._pid != os.getpid():
                self._threads = []
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            while len(self._threads) < self.senders:
                thread = threading.Thread(target=self._run, name="tracebin-sender", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # interpreter shutting down: flush() delivers inline instead
                    break
                self._threads.append(thread)
            self._pid = os.getpid()
            return bool(self._threads)

    def flush(self, timeout: float) -> bool:
        """Wait until every queued event is delivered, or kept on disk; True when all were delivered."""
        deadline = time.monotonic() + max(0.0, timeout)
        if not self._start():
            return self._deliver_inline(deadline)
        with self._cv:
            self._flushes += 1
            # Only a step begun after this point has seen every event submitted before the flush.
            start = self._step_no
            self._retry_now = True
            try:
                self._wake.set()
                while self._settled <= start:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cv.wait(remaining)
                done = self._settled > start
                delivered = done and not self._failing
            finally:
                self._flushes -= 1
                if not self._flushes:
                    self._retry_now = False
        if not done:
            self.persist_all()
        return delivered

    def persist_all(self) -> None:
        """Put everything still in memory on disk (at exit, when there is no time left to send it)."""
        with self._cv:
            inflight = list(self._inflight.values())
        for item in inflight:
            if isinstance(item, dict):  # may be delivered too: the server dedupes by event_id
                self._to_spool(item)
        self._spool_queue()

    def _to_spool(self, item: Item) -> None:
        if isinstance(item, Spooled):
            self.spool.release(item.path)
            return
        body = self.prepare(item)
        if body is not None and not self.spool.put(body):
            self.drops.add(_drops.QUEUE_FULL)

    def _spool_queue(self) -> None:
        while True:
            # In flight while it is written: a flush must not end (and the process exit) meanwhile.
            with self._cv:
                try:
                    item = self.queue.popleft()
                except IndexError:
                    return
                self._inflight[threading.get_ident()] = item
            try:
                self._to_spool(item)
            finally:
                self._done_with_item()

    def _deliver_inline(self, deadline: float) -> bool:
        if self.connect is None:
            return False
        transport = self.connect()
        try:
            while time.monotonic() < deadline:
                item, _idle = self._take()
                if item is None:
                    self._report_drops(transport, force=True)
                    return True
                try:
                    delivered = self._deliver(item, transport)
                finally:
                    self._done_with_item()
                if not delivered:
                    break
            self.persist_all()
            return False
        finally:
            transport.close()

    def stop(self, timeout: float) -> None:
        """Flush, then end the senders (waiting for an attempt in progress, so no claim is left)."""
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        with self._cv:
            self._stopped = True
            threads = [t for t in self._threads if t is not threading.current_thread()]
        deadline = max(deadline, time.monotonic() + 0.5)
        while threads and time.monotonic() < deadline:
            # Set again and again: a sender starting its step clears the event for all of them.
            self._wake.set()
            threads[0].join(0.02)
            threads = [thread for thread in threads if thread.is_alive()]

    # -- sender threads ------------------------------------------------------------------------

    def _run(self) -> None:
        assert self.connect is not None
        transport = self.connect()
        try:
            while not self._stopped and self._pid == os.getpid():
                try:
                    self._step(transport)
                except Exception as exc:
                    report_internal_error("the delivery worker failed", exc)
                    time.sleep(0.1)
        finally:
            transport.close()

    def _paused(self) -> bool:
        return time.monotonic() < self._resume_at and not self._retry_now

    def _step(self, transport: HttpTransport) -> None:
        with self._cv:
            self._step_no += 1
            step = self._step_no
        self._wake.clear()  # before looking for work, so that no wake-up is lost
        if self._stopped:
            return
        if self._paused():
            # While the server is unreachable or asks us to wait, keep everything on disk.
            self._spool_queue()
            self._wake.wait(self._resume_at - time.monotonic())
            return
        item, idle = self._take()
        if item is None:
            if idle:
                if self._flushes:
                    self._report_drops(transport, force=True)
                self._settle(step, failing=False)
                self._report_drops(transport, force=False)
            self._wake.wait(0.005 if self._flushes else REPORT_INTERVAL)
            return
        try:
            delivered = self._deliver(item, transport)
        finally:
            self._done_with_item()
        self._report_drops(transport, force=False)
        if not delivered and self._flushes:
            # A flush is waiting (exit, SIGTERM): do not make it wait for the server; keep on disk.
            self._spool_queue()
            self._settle(step, failing=True)

    def _settle(self, step: int, *, failing: bool) -> None:
        with self._cv:
            if failing and self._inflight:
                return  # another sender is still on its attempt: it settles when done
            if failing:
                self._retry_now = False  # that attempt failed: the others wait for the backoff again
            if step > self._settled:
                self._settled = step
                self._failing = failing
            self._cv.notify_all()

    def _take(self) -> tuple[Item | None, bool]:
        """The next item (memory first, then the spool), registered as in flight; and whether every
        sender is idle when there is none."""
        with self._cv:
            item: Item | None
            try:
                item = self.queue.popleft()
            except IndexError:
                claimed = self.spool.claim()
                item = None if claimed is None else Spooled(claimed[1], claimed[0])
            if item is None:
                idle = not self._inflight
            else:
                self._inflight[threading.get_ident()] = item
                idle = False
        self.drops.add(_drops.EXPIRED, self.spool.take_expired())
        return item, idle

    def _done_with_item(self) -> None:
        with self._cv:
            self._inflight.pop(threading.get_ident(), None)

    def _deliver(self, item: Item, transport: HttpTransport) -> bool:
        """Send one event; False when it could not be delivered now (it is kept for later)."""
        body = item.body if isinstance(item, Spooled) else self.prepare(item)
        if body is None:
            self._finish(item)
            return True
        reply = self._post(transport, body)
        if reply.status == 413:
            # Trim what was prepared (before_send applied, scrubbed), never the raw event.
            reply = self._post(transport, encode(trim(json.loads(body))))
            if reply.status == 413:
                self.drops.add(_drops.TOO_LARGE)
        return self._outcome(item, body, reply)

    def _post(self, transport: HttpTransport, body: bytes) -> Reply:
        gzipped = len(body) >= GZIP_MIN
        return transport.post("exceptions", gzip.compress(body, 6, mtime=0) if gzipped else body, gzipped=gzipped)

    def _outcome(self, item: Item, body: bytes, reply: Reply) -> bool:
        status = reply.status
        if 200 <= status < 300 or status == 413:
            self._failures = 0
            self._server_failures.clear()
            self._finish(item)
            return True
        if status in (429, 503) or status == 0 or status >= 500:
            if status >= 500 and status != 503 and self._count_server_failure(item, body):
                self.drops.add(_drops.SEND_ERROR)
                self._finish(item)
                return True
            self._back_off(reply.retry_after if status in (429, 503) else None)
            logger.debug(
                "tracebin: delivery failed (%s); retrying in %.1f s",
                status or "network error",
                self._resume_at - time.monotonic(),
            )
            self._keep(item, body)
            return False
        logger.warning("tracebin: the server rejected an event (HTTP %s); check TRACEBIN_URL", status)
        self.drops.add(_drops.REJECTED)
        self._finish(item)
        return True

    def _count_server_failure(self, item: Item, body: bytes) -> bool:
        key = str(item.get("event_id")) if isinstance(item, dict) else str(json.loads(body).get("event_id"))
        failures = self._server_failures.get(key, 0) + 1
        self._server_failures[key] = failures
        if failures >= MAX_SERVER_FAILURES:
            self._server_failures.pop(key, None)
            return True
        return False

    def _back_off(self, retry_after: float | None) -> None:
        self._failures += 1
        if retry_after is not None:
            delay = min(retry_after, MAX_RETRY_AFTER)
        else:
            ceiling = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** min(self._failures - 1, 10))
            delay = random.uniform(ceiling / 2, ceiling)  # jitter: many dynos must not retry in step
        self._resume_at = time.monotonic() + delay

    def _keep(self, item: Item, body: bytes) -> None:
        if isinstance(item, Spooled):
            self.spool.release(item.path)
        elif not self.spool.put(body):
            self.drops.add(_drops.QUEUE_FULL)

    def _finish(self, item: Item) -> None:
        if isinstance(item, Spooled):
            self.spool.done(item.path, len(item.body))

    def _report_drops(self, transport: HttpTransport, *, force: bool) -> None:
        if not force and time.monotonic() - self._last_report < REPORT_INTERVAL:
            return
        # One report at a time: a flush must not see "nothing to report" while another is on its way.
        with self._report_lock:
            self._send_report(transport)

    def _send_report(self, transport: HttpTransport) -> None:
        counts = self.drops.take()
        if not counts:
            return
        self._last_report = time.monotonic()
        body = json.dumps(
            {"discarded_events": [{"reason": reason, "quantity": n} for reason, n in sorted(counts.items())]}
        ).encode()
        reply = transport.post("client-reports", body, gzipped=False)
        if not 200 <= reply.status < 300:
            self.drops.give_back(counts)
