"""The public status page's model: component states from incidents, maintenance and automatic health.

Operator-entered state (incidents, maintenance) is read from the database at most every CACHE_TTL
seconds and kept in memory with the time it was read. When the database cannot be reached within a
short timeout the page is still served: every component shows an outage caused by the database, and
the last known incidents and maintenance are shown with the time they were read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.storage import ops_status
from app.storage.ops_status import Incident, Maintenance

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

COMPONENTS: dict[str, str] = {"api": "API", "ingestion": "Event ingestion", "dashboard": "Dashboard"}
# Worst last: a component shows the worst state any cause gives it.
STATES = ("operational", "maintenance", "degraded", "partial_outage", "major_outage")
STATE_LABELS = {
    "operational": "Operational",
    "maintenance": "Under maintenance",
    "degraded": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}
SEVERITY_STATE = {"minor": "degraded", "major": "partial_outage", "critical": "major_outage"}
HISTORY_DAYS = 90
CACHE_TTL = 5.0
PING_TIMEOUT = 1.5
LOAD_TIMEOUT = 3.0
QUEUE_DEGRADED = 0.8  # share of the ingest queue in use above which ingestion is "degraded"
LAG_DEGRADED = 5.0  # seconds of ingest lag above which ingestion is "degraded"


def worst(states: list[str]) -> str:
    return max(states, key=STATES.index, default="operational")


@dataclass(frozen=True)
class Snapshot:
    incidents: list[Incident]  # active ones and those of the last 90 days, newest first
    maintenance: list[Maintenance]  # in progress and upcoming
    past_maintenance: list[Maintenance]  # of the last 90 days (history)
    read_at: int


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    label: str
    state: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusReport:
    generated_at: int
    database_ok: bool
    snapshot_read_at: int | None
    components: list[ComponentStatus]
    active_incidents: list[Incident]
    recent_incidents: list[Incident]
    maintenance: list[Maintenance]
    history: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def overall(self) -> str:
        return worst([c.state for c in self.components])


class StatusService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._database_ok = True
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Re-read at the next request (called after an operator changed something)."""
        self._checked_at = 0.0

    async def report(self, *, now: int | None = None) -> StatusReport:
        now = int(time.time()) if now is None else now
        await self._refresh(now)
        return self._build(now)

    async def _refresh(self, now: int) -> None:
        async with self._lock:
            if time.monotonic() - self._checked_at < CACHE_TTL:
                return
            self._checked_at = time.monotonic()
            try:
                await asyncio.wait_for(self.ctx.db.ping(), timeout=PING_TIMEOUT)
                self._snapshot = await asyncio.wait_for(self._load(now), timeout=LOAD_TIMEOUT)
                self._database_ok = True
            except Exception as exc:  # any driver error or a timeout: the database is unreachable
                if self._database_ok:
                    log.warning("status: database unreachable: %r", exc)
                self._database_ok = False

    async def _load(self, now: int) -> Snapshot:
        db = self.ctx.db
        since = (now // 86400 - HISTORY_DAYS + 1) * 86400
        return Snapshot(
            incidents=await ops_status.list_incidents(db, since=since),
            maintenance=await ops_status.list_maintenance(db, ending_after=now),
            past_maintenance=await ops_status.list_maintenance_between(db, start=since, end=now),
            read_at=now,
        )

    def _automatic(self) -> dict[str, tuple[str, str]]:
        """Component → (state, note) from the process's own health."""
        found: dict[str, tuple[str, str]] = {}
        if not self._database_ok:
            note = "Our database cannot be reached; we are on it."
            return {name: ("major_outage", note) for name in COMPONENTS}
        depth, capacity, lag = ingest_queue(self.ctx)
        if capacity and depth >= capacity * QUEUE_DEGRADED:
            found["ingestion"] = ("degraded", f"The ingest queue is {depth * 100 // capacity} % full.")
        elif lag > LAG_DEGRADED:
            found["ingestion"] = ("degraded", f"Events are written {lag:.0f} s after they arrive.")
        return found

    def _build(self, now: int) -> StatusReport:
        snap = self._snapshot or Snapshot([], [], [], 0)
        active = [i for i in snap.incidents if i.is_active]
        states: dict[str, list[str]] = {name: ["operational"] for name in COMPONENTS}
        notes: dict[str, list[str]] = {name: [] for name in COMPONENTS}
        for incident in active:
            for name in incident.components:
                if name in states:
                    states[name].append(SEVERITY_STATE.get(incident.severity, "degraded"))
                    notes[name].append(incident.title)
        for window in snap.maintenance:
            if window.starts_at <= now < window.ends_at:
                for name in window.components:
                    if name in states:
                        states[name].append("maintenance")
                        notes[name].append(window.title)
        for name, (state, note) in self._automatic().items():
            states[name].append(state)
            notes[name].append(note)
        components = [
            ComponentStatus(name, label, worst(states[name]), tuple(notes[name])) for name, label in COMPONENTS.items()
        ]
        page_notes = []
        if not self._database_ok:
            read = "never since this server started" if not snap.read_at else time_text(snap.read_at)
            page_notes.append(
                f"Our database is unreachable. Incidents and maintenance below are as last read at {read}."
            )
        return StatusReport(
            generated_at=now,
            database_ok=self._database_ok,
            snapshot_read_at=snap.read_at or None,
            components=components,
            active_incidents=active,
            recent_incidents=[i for i in snap.incidents if not i.is_active],
            maintenance=snap.maintenance,
            history=history(snap, now),
            notes=page_notes,
        )

    def find_incident(self, incident_id: int) -> Incident | None:
        snap = self._snapshot
        return next((i for i in snap.incidents if i.id == incident_id), None) if snap else None


def ingest_queue(ctx: AppContext) -> tuple[int, int, float]:
    """(queue depth, capacity, lag seconds) of the ingest writer."""
    return ctx.writer.queue_depth, ctx.settings.ingest_queue_size, ctx.writer.lag_seconds


def history(snap: Snapshot, now: int) -> list[dict[str, Any]]:
    """One entry per UTC day, oldest first: the worst state of each component that day."""
    today = now // 86400
    days = []
    for day in range(today - HISTORY_DAYS + 1, today + 1):
        start, end = day * 86400, (day + 1) * 86400
        states: dict[str, list[str]] = {name: [] for name in COMPONENTS}
        ids = []
        for incident in snap.incidents:
            if incident.created_at < end and (incident.resolved_at or now) >= start:
                ids.append(incident.id)
                for name in incident.components:
                    if name in states:
                        states[name].append(SEVERITY_STATE.get(incident.severity, "degraded"))
        for window in snap.past_maintenance:
            if window.starts_at < end and window.ends_at > start:
                for name in window.components:
                    if name in states:
                        states[name].append("maintenance")
        days.append(
            {
                "day": time.strftime("%Y-%m-%d", time.gmtime(start)),
                "components": {name: worst(found) for name, found in states.items()},
                "incidents": ids,
            }
        )
    return days


def time_text(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def report_json(report: StatusReport, public_url: str) -> dict[str, Any]:
    def incident(i: Incident) -> dict[str, Any]:
        return {
            "id": i.id,
            "title": i.title,
            "severity": i.severity,
            "status": i.status,
            "components": list(i.components),
            "created_at": i.created_at,
            "resolved_at": i.resolved_at,
            "url": f"{public_url}/status/incidents/{i.id}",
            "postmortem": i.postmortem,
            "updates": [{"status": u.status, "body": u.body, "at": u.created_at} for u in i.updates],
        }

    return {
        "status": report.overall,
        "generated_at": report.generated_at,
        "database": "ok" if report.database_ok else "unreachable",
        "data_read_at": report.snapshot_read_at,
        "notes": report.notes,
        "components": [
            {"name": c.name, "label": c.label, "state": c.state, "notes": list(c.notes)} for c in report.components
        ],
        "incidents": [incident(i) for i in report.active_incidents],
        "maintenance": [
            {
                "id": m.id,
                "title": m.title,
                "description": m.description,
                "components": list(m.components),
                "starts_at": m.starts_at,
                "ends_at": m.ends_at,
                "emergency": m.emergency,
                "in_progress": m.starts_at <= report.generated_at < m.ends_at,
            }
            for m in report.maintenance
        ],
        "recent_incidents": [incident(i) for i in report.recent_incidents],
        "history": report.history,
    }
