"""Counts of events the client did not deliver, by reason (reported to POST /client-reports)."""

from __future__ import annotations

import threading

# The reasons, as the dashboard shows them.
SAMPLED = "sample_rate"
BEFORE_SEND = "before_send"
IGNORED = "ignored"  # ignore_exceptions
QUEUE_FULL = "queue_full"  # the memory queue and the spool were both full
REJECTED = "rejected"  # the server refused the event (4xx other than 413/429)
TOO_LARGE = "too_large"  # 413 even after trimming
SEND_ERROR = "send_error"  # the server failed on this event again and again (5xx)
EXPIRED = "expired"  # waited in the spool longer than its maximum age
INTERNAL_ERROR = "internal_error"  # a bug of the library while building the event


class DropCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def after_fork(self) -> None:
        # The parent reports its own drops; the child starts from zero.
        self._lock = threading.Lock()
        self._counts = {}

    def add(self, reason: str, quantity: int = 1) -> None:
        if quantity <= 0:
            return
        with self._lock:
            self._counts[reason] = self._counts.get(reason, 0) + quantity

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts

    def give_back(self, counts: dict[str, int]) -> None:
        for reason, quantity in counts.items():
            self.add(reason, quantity)
