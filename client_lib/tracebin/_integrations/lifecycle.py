"""Process lifecycle: flush at exit and on SIGTERM (chained), start afresh in forked children."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from tracebin import _hub
from tracebin._guard import report_internal_error

_registered = False


def flush_now(timeout: float | None = None) -> None:
    client = _hub.client
    if client is None or not client.enabled:
        return
    try:
        client.flush(client.config.shutdown_timeout if timeout is None else timeout)
    except Exception as error:
        report_internal_error("flushing at shutdown failed", error)


def _after_fork_in_child() -> None:
    client = _hub.client
    if client is None:
        return
    try:
        client.after_fork()
        if "multiprocessing.util" in sys.modules:
            # multiprocessing children leave through os._exit() (atexit does not run), after running
            # its finalizers; it clears them after this hook, then calls its after-fork callbacks.
            from multiprocessing import util

            util.register_after_fork(client, _flush_at_process_exit)
    except Exception as error:
        report_internal_error("resetting after fork failed", error)


def _flush_at_process_exit(client: object) -> None:
    from multiprocessing import util

    util.Finalize(None, flush_now, exitpriority=10)


def register_process_hooks() -> None:
    """atexit and fork hooks, once per process (they look up the current client when they run)."""
    global _registered
    if _registered:
        return
    _registered = True
    atexit.register(flush_now)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def install_sigterm() -> bool:
    """Flush on SIGTERM (Heroku gives 30 s), then hand the signal to whoever handled it before."""
    if threading.current_thread() is not threading.main_thread():
        return False
    previous: Any = signal.getsignal(signal.SIGTERM)
    if previous is None or getattr(previous, "_tracebin", False):
        return False  # a handler installed outside Python (cannot chain), or ours already

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # Flush on a helper thread: this handler may have interrupted the main thread while it held
        # a lock the flush needs, and the join's timeout bounds the wait whatever happens.
        client = _hub.client
        timeout = client.config.shutdown_timeout if client is not None else 0.0
        helper = threading.Thread(target=flush_now, args=(timeout,), name="tracebin-sigterm", daemon=True)
        helper.start()
        helper.join(timeout + 1.0)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    on_sigterm._tracebin = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGTERM, on_sigterm)
    return True
