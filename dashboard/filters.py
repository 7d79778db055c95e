"""Template filters for times and numbers (registered in dashboard.templating)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def timestamp(value: float | int | None) -> str:
    if value is None:
        return "—"
    return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(value: float | int | None, now: float | None = None) -> str:
    if value is None:
        return "never"
    now = datetime.now(UTC).timestamp() if now is None else now
    seconds = max(0, int(now - float(value)))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def number(value: int | float) -> str:
    return f"{value:,}"


def day(value: int) -> str:
    """A day number (unix seconds // 86400) as YYYY-MM-DD."""
    return datetime.fromtimestamp(value * 86400, UTC).strftime("%Y-%m-%d")


def hour(value: int) -> str:
    """An hour number (unix seconds // 3600) as HH:00 UTC."""
    return datetime.fromtimestamp(value * 3600, UTC).strftime("%H:00")


FILTERS: dict[str, Callable[..., Any]] = {
    "timestamp": timestamp,
    "ago": ago,
    "number": number,
    "day": day,
    "hour": hour,
}
