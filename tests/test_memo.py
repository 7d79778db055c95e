"""app.memo: a bounded memo keeps what it was given until it is full, then starts over."""

from __future__ import annotations

from app.memo import remember


def test_remember_keeps_entries_until_the_limit_then_starts_over() -> None:
    memo: dict[str, int] = {}
    for i in range(3):
        remember(memo, f"k{i}", i, limit=3)
    assert memo == {"k0": 0, "k1": 1, "k2": 2}
    remember(memo, "k1", 10, limit=3)  # full: emptied first, so only the new entry is left
    assert memo == {"k1": 10}
