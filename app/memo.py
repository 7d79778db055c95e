"""Bounded in-process memos: plain dicts, emptied when full.

The hot path reads a memo with `dict.get` (the cheapest lookup there is); `remember` stores what a
miss computed. Emptying at once instead of evicting one entry at a time keeps a hit free of any
bookkeeping; the entries that matter come back within a few requests.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(memo: dict[K, V], key: K, value: V, limit: int) -> None:
    """Store `value` under `key`, first emptying `memo` when it holds `limit` entries."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
