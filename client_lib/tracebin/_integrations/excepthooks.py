"""sys.excepthook and threading.excepthook: capture, then chain to the hook that was there before."""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any

from tracebin import _hub
from tracebin._guard import report_internal_error

_previous_sys: Any = None
_previous_threading: Any = None


def _capture(exc: BaseException | None, mechanism: str) -> None:
    try:
        client = _hub.get()
        if client is not None and exc is not None and not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            client.capture_exception(exc, mechanism={"type": mechanism, "handled": False})
    except Exception as error:
        report_internal_error(f"capturing in {mechanism} failed", error)


def _sys_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    _capture(exc, "excepthook")
    (_previous_sys or sys.__excepthook__)(exc_type, exc, tb)


def _threading_hook(args: Any) -> None:
    _capture(args.exc_value, "threading")
    (_previous_threading or threading.__excepthook__)(args)


def install() -> None:
    global _previous_sys, _previous_threading
    if sys.excepthook is not _sys_hook:
        _previous_sys = sys.excepthook
        sys.excepthook = _sys_hook
    if threading.excepthook is not _threading_hook:
        _previous_threading = threading.excepthook
        threading.excepthook = _threading_hook


def uninstall() -> None:
    """Put the previous hooks back (only if nobody chained on top of ours meanwhile)."""
    global _previous_sys, _previous_threading
    if sys.excepthook is _sys_hook:
        sys.excepthook = _previous_sys or sys.__excepthook__
        _previous_sys = None
    if threading.excepthook is _threading_hook:
        threading.excepthook = _previous_threading or threading.__excepthook__
        _previous_threading = None
