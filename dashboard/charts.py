"""Bar charts as plain numbers for inline SVG (no JavaScript, no inline styles: CSP-friendly)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str


def bars(values: Sequence[int], *, width: float, height: float, labels: Sequence[str] | None = None) -> list[Bar]:
    """One bar per value scaled to the largest; a zero still shows as a 1-unit baseline."""
    if not values:
        return []
    top = max(values) or 1
    slot = width / len(values)
    gap = min(1.0, slot * 0.2)
    found = []
    for index, value in enumerate(values):
        bar_height = max(1.0, height * value / top) if value else 1.0
        found.append(
            Bar(
                x=round(index * slot, 2),
                y=round(height - bar_height, 2),
                width=round(slot - gap, 2),
                height=round(bar_height, 2),
                value=value,
                label=labels[index] if labels else "",
            )
        )
    return found


def spark_path(values: Sequence[int], *, width: float, height: float) -> str:
    """An SVG path drawing one bar per non-zero value: one element per sparkline, not one per hour."""
    if not values:
        return ""
    top = max(values) or 1
    slot = width / len(values)
    bar = max(slot - 1.0, 1.0)
    parts = []
    for index, value in enumerate(values):
        if value:
            bar_height = max(1.0, height * value / top)
            parts.append(f"M{index * slot:.1f} {height - bar_height:.1f}h{bar:.1f}v{bar_height:.1f}h-{bar:.1f}z")
    return "".join(parts)
