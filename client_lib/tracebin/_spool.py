"""A bounded on-disk spool of events the memory queue could not hold or the server did not take.

One file per event (already scrubbed, JSON): written to a temporary name, then renamed, so a
reader never sees half a file. A process claims a file by renaming it with its pid, so several
processes (web workers on one dyno, the next process after a restart) share one directory safely.
Claims of processes that died are taken back.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque

from tracebin._guard import logger

SUFFIX = ".event"
MAX_AGE = 7 * 86400  # older spooled events are dropped (the server keeps at most that anyway)
STALE_CLAIM = 300.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class Spool:
    def __init__(self, directory: str, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._size: int | None = None  # estimate, rescanned when it says "full"
        self._scanned_at = 0.0
        self._backlog: deque[str] = deque()
        self.expired = 0  # events dropped for age since the last call of take_expired()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._size = None
        self._backlog = deque()

    def _ensure_dir(self) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)

    def _scan_size(self) -> int:
        total = 0
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    try:
                        total += entry.stat().st_size
                    except OSError:
                        continue
        except FileNotFoundError:
            return 0
        self._scanned_at = time.monotonic()
        return total

    def put(self, body: bytes) -> bool:
        """Store one event; False when the spool is full (or not writable)."""
        if self.max_bytes <= 0:
            return False
        with self._lock:
            if self._size is None or (
                self._size + len(body) > self.max_bytes and time.monotonic() - self._scanned_at > 1.0
            ):
                self._size = self._scan_size()
            if self._size + len(body) > self.max_bytes:
                return False
            name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._counter)}{SUFFIX}"
            try:
                self._ensure_dir()
                tmp = os.path.join(self.directory, "." + name + ".tmp")
                with open(tmp, "wb") as handle:
                    handle.write(body)
                os.replace(tmp, os.path.join(self.directory, name))
            except OSError as exc:
                logger.warning("tracebin: cannot write to the spool %s: %s", self.directory, exc)
                return False
            self._size += len(body)
            return True

    def _names(self) -> list[str]:
        try:
            return sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return []

    def _recover(self, name: str) -> None:
        """Take back a claim whose process is gone (or that is old)."""
        base, _, pid = name.rpartition(".claimed-")
        path = os.path.join(self.directory, name)
        try:
            stale = not pid.isdigit() or not _alive(int(pid)) or time.time() - os.path.getmtime(path) > STALE_CLAIM
            if stale and int(pid or 0) != os.getpid():
                os.replace(path, os.path.join(self.directory, base))
        except (OSError, ValueError):
            pass

    def _refresh(self) -> None:
        names = self._names()
        for name in names:
            if ".claimed-" in name:
                self._recover(name)
        self._backlog = deque(name for name in self._names() if name.endswith(SUFFIX) and not name.startswith("."))

    def claim(self) -> tuple[str, bytes] | None:
        """The oldest unclaimed event, now claimed by this process; None when the spool is empty."""
        while True:
            if not self._backlog:
                self._refresh()
                if not self._backlog:
                    return None
            name = self._backlog.popleft()
            path = os.path.join(self.directory, name)
            claimed = f"{path}.claimed-{os.getpid()}"
            try:
                os.replace(path, claimed)
                with open(claimed, "rb") as handle:
                    body = handle.read()
            except OSError:
                continue  # another process took it
            written = int(name.split("-", 1)[0]) / 1e9 if name[:1].isdigit() else time.time()
            if time.time() - written > MAX_AGE:
                self.done(claimed, len(body))
                self.expired += 1
                continue
            return claimed, body

    def done(self, path: str, size: int = 0) -> None:
        try:
            os.unlink(path)
        except OSError:
            return
        with self._lock:
            if self._size is not None:
                self._size = max(0, self._size - size)

    def release(self, path: str) -> None:
        """Give a claimed event back (delivery failed; it stays for a later attempt)."""
        base, _, _pid = path.rpartition(".claimed-")
        try:
            os.replace(path, base)
        except OSError:
            pass

    def take_expired(self) -> int:
        expired, self.expired = self.expired, 0
        return expired
