"""`seed-demo` data is consistent: every counter the dashboard reads matches the events."""

from __future__ import annotations

import functools

from starlette.testclient import TestClient

from app.seed import seed_demo
from tests.conftest import Provisioned
from tests.support.dashboard import sign_in

CHECKS = {
    "events": "SELECT COUNT(*) FROM events WHERE resource_id = {rid}",
    "issue counts": "SELECT SUM(count) FROM issues WHERE resource_id = {rid}",
    "issue_hourly": "SELECT SUM(h.count) FROM issue_hourly h JOIN issues i ON i.id = h.issue_id WHERE i.resource_id = {rid}",
    "project_hourly": "SELECT SUM(count) FROM project_hourly WHERE resource_id = {rid}",
    "usage_monthly": "SELECT SUM(events) FROM usage_monthly WHERE resource_id = {rid}",
}
# Issues whose first/last seen or count differ from their events (must be none).
MISMATCHED = """
SELECT COUNT(*) FROM issues i JOIN (
    SELECT issue_id, MIN(received_at) AS first, MAX(received_at) AS last, COUNT(*) AS n
    FROM events WHERE resource_id = {rid} GROUP BY issue_id
) e ON e.issue_id = i.id
WHERE i.first_seen <> e.first OR i.last_seen <> e.last OR i.count <> e.n
"""


def test_seeded_counters_match_the_events(client: TestClient, resource: Provisioned) -> None:
    db = client.app.state.ctx.db  # type: ignore[attr-defined]
    rid = resource.project_number
    seed = functools.partial(seed_demo, db, resource_id=rid, n_issues=50, n_events=2_000, seed=3)
    summary = client.portal.call(seed)  # type: ignore[union-attr]
    assert summary.issues == 50 and summary.events == 2_000

    async def scalar(sql: str) -> int:
        async with db.connection() as conn:
            return int(await conn.fetch_val(sql.format(rid=rid)) or 0)

    totals = {name: client.portal.call(scalar, sql) for name, sql in CHECKS.items()}  # type: ignore[union-attr]
    assert set(totals.values()) == {2_000}, totals
    assert client.portal.call(scalar, MISMATCHED) == 0  # type: ignore[union-attr]
    assert client.portal.call(scalar, "SELECT COUNT(*) FROM issues WHERE resource_id = {rid}") == 50  # type: ignore[union-attr]
    # And the pages agree: the busiest issue's 30-day chart sums to its count.
    sign_in(client, resource.heroku_uuid)
    busiest = client.get("/dashboard?status=all&sort=count", headers={"Accept": "application/json"}).json()["issues"][0]
    detail = client.get(f"/dashboard/issues/{busiest['id']}", headers={"Accept": "application/json"}).json()
    assert sum(point["count"] for point in detail["last_30d"]) == busiest["count"]
    assert detail["event"]["payload"]["exception"][0]["frames"][-1]["in_app"] is True
