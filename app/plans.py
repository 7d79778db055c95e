"""The plans sold through Heroku (kept in step with addon-manifest.json by a test)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    events_per_month: int
    retention_days: int
    price_cents_per_month: int


PLANS: dict[str, Plan] = {
    plan.name: plan
    for plan in (
        Plan("test", 1_000, 7, 0),
        Plan("hobby", 10_000, 7, 0),
        Plan("basic", 100_000, 30, 900),
        Plan("pro", 1_000_000, 90, 4900),
    )
}


def get_plan(name: str) -> Plan | None:
    return PLANS.get(name)
