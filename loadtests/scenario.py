"""What `loadtests.run` hands the locust process (a JSON file named by $TRACEBIN_LOADTEST_CONFIG),
and the ledger the locust process writes back: which event ids each resource acknowledged."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CONFIG_ENV = "TRACEBIN_LOADTEST_CONFIG"


@dataclass(frozen=True)
class Mix:
    """Shares of the event users' requests (the rest are recurring exceptions of normal size)."""

    new_issue: float = 0.03  # a never-seen exception class, built live: a new issue
    large: float = 0.02  # a large stack (25-55 frames) with bulky locals: 100-220 KB
    gzip: float = 0.10  # of the valid events: sent gzip-compressed, as clients do
    bad_key: float = 0.01  # a key no resource has: expect 401
    oversized: float = 0.002  # a raw body over 1 MiB: expect 413
    bomb: float = 0.002  # a small gzip body that inflates past 1 MiB: expect 413


@dataclass(frozen=True)
class ResourceRef:
    project: int
    key: str
    heroku_uuid: str


@dataclass(frozen=True)
class ScenarioConfig:
    resources: list[ResourceRef]
    addon_password: str
    sso_salt: str
    ledger_path: str
    stats_path: str
    event_user_rate: float  # requests per second per event user
    dashboard_users: int = 1
    dashboard_rate: float = 2.0  # pages per second per dashboard user
    churn_users: int = 1
    churn_cycle_seconds: float = 10.0  # one provision → events → plan change → deprovision cycle
    mix: Mix = field(default_factory=Mix)
    seed: int = 7

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> ScenarioConfig:
        raw: dict[str, Any] = json.loads(text)
        raw["resources"] = [ResourceRef(**item) for item in raw["resources"]]
        raw["mix"] = Mix(**raw["mix"])
        return cls(**raw)


class Ledger:
    """Outcomes of every event the generator sent, by project.

    acked: 202 with the same id back — must be in the database afterwards.
    refused: a definite 4xx (401/413/400/429) — must not be.
    uncertain: no answer (connection error, timeout, stopped mid-request) or a 5xx — may be either.
    purged: acknowledged by a resource that was deprovisioned later — its data must be gone.
    """

    def __init__(self) -> None:
        self.acked: dict[int, set[str]] = defaultdict(set)
        self.uncertain: dict[int, set[str]] = defaultdict(set)
        self.refused = 0
        self.in_flight: dict[str, int] = {}
        self.deprovisioned: set[int] = set()
        # A DELETE sent without a reply seen (the run stopped): the resource may or may not be gone.
        self.deprovisioning: set[int] = set()

    def sending(self, project: int, event_id: str) -> None:
        self.in_flight[event_id] = project

    def outcome(self, event_id: str, status: int) -> None:
        project = self.in_flight.pop(event_id, None)
        if project is None:
            return
        if status == 202:
            self.acked[project].add(event_id)
        elif 400 <= status < 500:
            self.refused += 1
        else:
            self.uncertain[project].add(event_id)

    def to_json(self) -> dict[str, Any]:
        uncertain = {project: set(ids) for project, ids in self.uncertain.items()}
        for event_id, project in self.in_flight.items():
            uncertain.setdefault(project, set()).add(event_id)
        return {
            "acked": {str(p): sorted(ids) for p, ids in self.acked.items()},
            "uncertain": {str(p): sorted(ids) for p, ids in uncertain.items()},
            "refused": self.refused,
            "deprovisioned": sorted(self.deprovisioned),
            "unknown_projects": sorted(self.deprovisioning - self.deprovisioned),
        }

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json()))


@dataclass(frozen=True)
class LedgerFile:
    acked: dict[int, set[str]]
    uncertain: dict[int, set[str]]
    refused: int
    deprovisioned: set[int]
    unknown_projects: set[int] = field(default_factory=set)  # left out of the check

    @classmethod
    def read(cls, path: str | Path) -> LedgerFile:
        raw = json.loads(Path(path).read_text())
        return cls(
            acked={int(p): set(ids) for p, ids in raw["acked"].items()},
            uncertain={int(p): set(ids) for p, ids in raw["uncertain"].items()},
            refused=int(raw["refused"]),
            deprovisioned={int(p) for p in raw["deprovisioned"]},
            unknown_projects={int(p) for p in raw.get("unknown_projects", [])},
        )

    @property
    def acked_count(self) -> int:
        return sum(len(ids) for ids in self.acked.values())
