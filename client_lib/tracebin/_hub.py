"""The process's current client (set by init(), cleared by close())."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracebin._client import Client

client: Client | None = None


def get() -> Client | None:
    current = client
    return current if current is not None and current.enabled else None
