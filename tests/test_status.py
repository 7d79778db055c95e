"""The status page, incidents from acknowledgement to post-mortem, and maintenance with the 24-hour rule."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from starlette.testclient import TestClient

from app.context import build_context
from app.errors import BadRequest
from app.main import create_app
from app.services import incidents, maintenance
from app.settings import Settings
from tests.conftest import PUBLIC_URL, make_settings, provision
from tests.opskit import body_of, console_login, console_post, create_operator, smtp_sink, sso_login
from tests.support import db as dbsupport
from tests.support.server import live_server


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M")


def test_an_incident_from_acknowledgement_to_post_mortem(database_url: str) -> None:
    with smtp_sink() as sink:
        settings = make_settings(database_url, smtp_url=sink.url)
        create_operator(settings)
        with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
            sso_login(client, provision(client).heroku_uuid, "ann@acme.test")
            console_login(client)
            assert client.get("/status.json").json()["status"] == "operational"

            opened = console_post(
                client,
                "/admin/incidents",
                {
                    "title": "Events delayed",
                    "severity": "major",
                    "components": ["ingestion", "api"],
                    "message": "We see delays.",
                    "notify": "on",
                },
            )
            incident_path = opened.headers["location"]
            incident_id = int(incident_path.rsplit("/", 1)[1])
            status = client.get("/status.json").json()
            states = {c["name"]: c["state"] for c in status["components"]}
            assert states == {"api": "partial_outage", "ingestion": "partial_outage", "dashboard": "operational"}
            assert [i["title"] for i in status["incidents"]] == ["Events delayed"]

            update = {"status": "identified", "message": "A stuck <b>queue</b>.", "notify": "on"}
            console_post(client, f"{incident_path}/updates", update)
            page = client.get("/status").text
            assert "A stuck &lt;b&gt;queue&lt;/b&gt;." in page and "Events delayed" in page  # escaped
            console_post(
                client, f"{incident_path}/updates", {"status": "resolved", "message": "Drained.", "notify": "on"}
            )
            console_post(
                client, f"{incident_path}/postmortem", {"postmortem": "Root cause: a full disk.", "notify": "on"}
            )

            status = client.get("/status.json").json()
            assert status["status"] == "operational" and status["incidents"] == []
            past = status["recent_incidents"][0]
            assert [u["status"] for u in past["updates"]] == ["resolved", "identified", "investigating"]
            assert past["postmortem"] == "Root cause: a full disk."
            assert len(status["history"]) == 90
            assert status["history"][-1]["components"]["ingestion"] == "partial_outage"
            assert incident_id in status["history"][-1]["incidents"]
            public = client.get(f"/status/incidents/{incident_id}")
            assert public.status_code == 200 and "Root cause: a full disk." in public.text
            assert "support@tracebin.dev" in public.text  # the footer's support address
            mails = sink.wait_for(lambda found: len(found) >= 4)

        assert [m["Subject"] for m in mails] == [
            "[Tracebin] Service interruption: Events delayed",
            "[Tracebin] Update (identified): Events delayed",
            "[Tracebin] Resolved: Events delayed",
            "[Tracebin] Post-mortem: Events delayed",
        ]
        assert f"{PUBLIC_URL}/status/incidents/{incident_id}" in body_of(mails[0])
        assert all("List-Unsubscribe" not in m for m in mails)  # critical: no opt-out


def test_maintenance_needs_24_hours_notice_unless_an_emergency_with_a_reason(settings: Settings) -> None:
    async def run() -> None:
        ctx = build_context(settings)
        await ctx.db.connect()
        try:
            now = int(time.time())
            window = {"title": "DB upgrade", "description": "", "components": ["api"], "now": now}
            with pytest.raises(BadRequest, match="24 hours"):
                await maintenance.schedule(ctx, starts_at=now + 23 * 3600, ends_at=now + 24 * 3600, **window)
            with pytest.raises(BadRequest, match="reason"):
                await maintenance.schedule(ctx, starts_at=now + 600, ends_at=now + 3600, emergency=True, **window)
            later = await maintenance.schedule(ctx, starts_at=now + 24 * 3600, ends_at=now + 25 * 3600, **window)
            urgent = await maintenance.schedule(
                ctx, starts_at=now + 600, ends_at=now + 3600, emergency=True, reason="security fix", **window
            )
            assert not later.emergency and urgent.emergency and urgent.reminded_at == now
        finally:
            await ctx.db.disconnect()

    asyncio.run(run())


def test_maintenance_is_announced_reminded_once_and_shown(database_url: str) -> None:
    with smtp_sink() as sink:
        settings = make_settings(database_url, smtp_url=sink.url)
        create_operator(settings)
        app = create_app(settings)
        with TestClient(app, base_url=PUBLIC_URL) as client:
            sso_login(client, provision(client).heroku_uuid, "ann@acme.test")
            console_login(client)
            now = int(time.time())
            form = {"title": "Database upgrade", "components": "dashboard", "description": "Read-only for 10 min."}
            soon = console_post(
                client,
                "/admin/maintenance",
                {**form, "starts_at": _utc(now + 3 * 3600), "ends_at": _utc(now + 4 * 3600)},
            )
            assert soon.status_code == 400 and "24 hours" in soon.text
            starts = now + 30 * 3600
            made = console_post(
                client, "/admin/maintenance", {**form, "starts_at": _utc(starts), "ends_at": _utc(starts + 3600)}
            )
            assert made.status_code == 303
            shown = client.get("/status.json").json()["maintenance"]
            assert [(m["title"], m["in_progress"]) for m in shown] == [("Database upgrade", False)]
            assert "Database upgrade" in client.get("/status").text

            ctx = app.state.ctx
            start = shown[0]["starts_at"]
            assert client.portal.call(lambda: maintenance.send_due_reminders(ctx, now=start - 7200)) == 0
            assert client.portal.call(lambda: maintenance.send_due_reminders(ctx, now=start - 1800)) == 1
            assert client.portal.call(lambda: maintenance.send_due_reminders(ctx, now=start - 1700)) == 0
            status = client.portal.call(lambda: ctx.ops.status.report(now=start + 60))
            assert {c.name: c.state for c in status.components}["dashboard"] == "maintenance"
            mails = sink.wait_for(lambda found: len(found) >= 2)
        assert [m["Subject"] for m in mails] == [
            "[Tracebin] Scheduled maintenance: Database upgrade",
            "[Tracebin] Reminder: Database upgrade",
        ]
        assert "Read-only for 10 min." in body_of(mails[0])


@pytest.mark.postgres
def test_status_page_is_served_while_the_database_is_unreachable(postgres_url: str) -> None:
    name = f"tracebin_status_{uuid.uuid4().hex[:8]}"
    url = dbsupport.create_postgres_database(name)
    try:
        settings = make_settings(url)

        async def open_incident() -> None:
            ctx = build_context(settings)
            await ctx.db.connect()
            try:
                await incidents.open_incident(
                    ctx, title="Elevated errors", severity="minor", components=["api"], message="Looking.", notify=False
                )
            finally:
                await ctx.db.disconnect()

        asyncio.run(open_incident())
        with live_server(settings) as base:
            before = httpx.get(f"{base}/status.json", timeout=10).json()
            assert before["database"] == "ok" and before["incidents"][0]["title"] == "Elevated errors"
            dbsupport.drop_postgres_database(name)  # WITH (FORCE): the server's connections are cut

            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                after = httpx.get(f"{base}/status.json", timeout=10)
                if after.json()["database"] == "unreachable":
                    break
                time.sleep(0.2)
            assert after.status_code == 200
            body = after.json()
            assert {c["state"] for c in body["components"]} == {"major_outage"}
            assert body["incidents"][0]["title"] == "Elevated errors"  # the last known state ...
            assert body["data_read_at"] is not None  # ... and when it was read
            page = httpx.get(f"{base}/status", timeout=10)
            assert page.status_code == 200 and "database is unreachable" in page.text
            assert "Elevated errors" in page.text
    finally:
        dbsupport.drop_postgres_database(name)
