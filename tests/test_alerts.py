"""Issue alerts end to end: real ingest, a real webhook receiver that verifies the signature, a real
SMTP server, and a flood of 10,000 events of one issue that sends a handful of messages."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.context import AppContext, IssueActivity
from app.main import create_app
from app.storage import ops_outbox
from tests.conftest import PUBLIC_URL, Provisioned, make_settings, provision
from tests.opskit import body_of, csrf_of, smtp_sink, sso_login

MAX_AGE = 300


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str, now: float) -> bool:
    """What a customer's receiver does (the README shows the same code)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_AGE:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", signature)


class Receiver:
    def __init__(self) -> None:
        self.secret = ""
        self.deliveries: list[dict[str, Any]] = []
        self.rejected = 0
        self.lock = threading.Lock()


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = verify_signature(
                receiver.secret,
                self.headers.get("X-Tracebin-Timestamp", ""),
                body,
                self.headers.get("X-Tracebin-Signature", ""),
                time.time(),
            )
            with receiver.lock:
                if ok:
                    receiver.deliveries.append(json.loads(body))
                else:
                    receiver.rejected += 1
            self.send_response(204 if ok else 401)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/tracebin", receiver
    finally:
        server.shutdown()
        server.server_close()


def configure_alerts(client: TestClient, webhook_url: str, **extra: str) -> str:
    """Save the alert form as the signed-in customer; returns the secret shown once."""
    token = csrf_of(client.get("/dashboard/alerts").text)
    form = {
        "csrf_token": token,
        "on_new": "on",
        "on_regression": "on",
        "on_spike": "on",
        "spike_events": "100",
        "spike_minutes": "10",
        "email_enabled": "on",
        "webhook_url": webhook_url,
        **extra,
    }
    page = client.post("/dashboard/alerts", data=form)
    assert page.status_code == 200, page.text
    found = re.search(r'<p class="secret">([^<]+)</p>', page.text)
    assert found, "the secret is shown once after saving"
    assert found.group(1) not in client.get("/dashboard/alerts").text  # ... and only once
    return found.group(1)


def exception_event(n: int = 0) -> dict[str, Any]:
    frame = {
        "filename": "shop/cart.py",
        "function": "checkout",
        "module": "shop.cart",
        "lineno": 10 + n,
        "in_app": True,
    }
    return {"exception": [{"type": "KeyError", "value": f"'sku-{n}'", "frames": [frame]}]}


def wait_until_delivered(client: TestClient, ctx: AppContext, until: Callable[[], bool] = lambda: True) -> None:
    """Let the alert worker and the outbox sender finish what is queued (and `until` hold).

    The writer hands a committed batch to the listeners in a background task, so after a real
    POST /exceptions the activity may not be queued yet: `until` waits for the expected outcome.
    """
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        client.portal.call(ctx.ops.alerts.drain)
        client.portal.call(ctx.ops.sender.run_once)
        messages = client.portal.call(lambda: ops_outbox.list_messages(ctx.db, limit=1000))
        if until() and ctx.ops.alerts.pending == 0 and all(m.status != "pending" or m.attempts > 0 for m in messages):
            return
        time.sleep(0.05)
    raise AssertionError("alerts were not delivered")


def flood(client: TestClient, ctx: AppContext, resource_id: int, issue_id: int, title: str, events: int) -> None:
    """`events` events of one issue, committed in batches of 100 (what the writer reports to listeners)."""
    now = int(time.time())
    for _ in range(events // 100):
        batch = [IssueActivity(resource_id, issue_id, title, "error", False, False, 100, now)]
        for listener in ctx.batch_listeners:
            client.portal.call(listener, batch, [])


@pytest.mark.slow
def test_flood_of_one_issue_sends_a_handful_of_signed_alerts(database_url: str) -> None:
    with smtp_sink() as sink, webhook_receiver() as (hook_url, receiver):
        settings = make_settings(database_url, smtp_url=sink.url, webhook_allow_private=True)
        app = create_app(settings)
        ctx: AppContext = app.state.ctx
        with TestClient(app, base_url=PUBLIC_URL) as client:
            added: Provisioned = provision(client)
            sso_login(client, added.heroku_uuid, "oncall@acme.test")
            receiver.secret = configure_alerts(client, hook_url)

            # A real event through POST /exceptions opens a new issue: one "new" alert.
            reply = client.post("/exceptions", json=exception_event(), headers=added.basic_auth())
            assert reply.status_code == 202, reply.text
            wait_until_delivered(client, ctx, lambda: len(receiver.deliveries) >= 1)
            assert [d["type"] for d in receiver.deliveries] == ["issue.new"]
            issue = receiver.deliveries[0]["issue"]
            assert issue["url"] == f"{PUBLIC_URL}/dashboard/issues/{issue['id']}"
            assert issue["title"].startswith("KeyError")

            # 10,000 more events of the same issue: one spike alert, nothing else.
            flood(client, ctx, added.project_number, issue["id"], issue["title"], 10_000)
            wait_until_delivered(client, ctx, lambda: len(receiver.deliveries) >= 2)
            flood(client, ctx, added.project_number, issue["id"], issue["title"], 10_000)
            wait_until_delivered(client, ctx)

        assert [d["type"] for d in receiver.deliveries] == ["issue.new", "issue.spike"]
        assert receiver.deliveries[1]["events_in_window"] >= 100
        assert receiver.rejected == 0
        mails = sink.wait_for(lambda found: len(found) >= 2)
        assert len(mails) == 2
        assert [m["Subject"].split(":")[0] for m in mails] == ["[Tracebin] New issue", "[Tracebin] Spike"]
        assert all(f"/dashboard/issues/{issue['id']}" in body_of(m) for m in mails)


def test_regression_alert_and_a_receiver_rejects_a_forged_signature(database_url: str) -> None:
    with webhook_receiver() as (hook_url, receiver):
        settings = make_settings(database_url, webhook_allow_private=True)
        app = create_app(settings)
        ctx: AppContext = app.state.ctx
        with TestClient(app, base_url=PUBLIC_URL) as client:
            added = provision(client)
            sso_login(client, added.heroku_uuid, "oncall@acme.test")
            secret = configure_alerts(client, hook_url, on_spike="", email_enabled="")
            receiver.secret = "whsec_not-the-real-one"  # a receiver with the wrong secret refuses
            now = int(time.time())
            new = [IssueActivity(added.project_number, 42, "TypeError: x", "error", True, False, 1, now)]
            client.portal.call(ctx.ops.alerts.on_batch, new, [])

            def attempted() -> bool:
                return [m.attempts for m in client.portal.call(lambda: ops_outbox.list_messages(ctx.db))] == [1]

            wait_until_delivered(client, ctx, attempted)
            assert receiver.rejected == 1 and receiver.deliveries == []
            failed = client.portal.call(lambda: ops_outbox.list_messages(ctx.db))
            assert failed[0].status == "pending" and failed[0].next_attempt_at > now  # kept for a retry

            receiver.secret = secret
            client.portal.call(lambda: ctx.ops.sender.run_once(now=failed[0].next_attempt_at))
            regressed = [IssueActivity(added.project_number, 42, "TypeError: x", "error", False, True, 1, now + 1)]
            client.portal.call(ctx.ops.alerts.on_batch, regressed, [])
            client.portal.call(ctx.ops.alerts.on_batch, regressed, [])  # the same hour: throttled
            wait_until_delivered(client, ctx, lambda: len(receiver.deliveries) >= 2)
        assert [d["type"] for d in receiver.deliveries] == ["issue.new", "issue.regression"]


def test_alert_settings_are_validated_and_scoped_to_the_session(database_url: str) -> None:
    settings = make_settings(database_url)
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
        assert client.get("/dashboard/alerts").status_code == 401
        added = provision(client)
        sso_login(client, added.heroku_uuid, "oncall@acme.test")
        token = csrf_of(client.get("/dashboard/alerts").text)
        bad = {"csrf_token": token, "webhook_url": "ftp://example.com", "spike_events": "5", "spike_minutes": "10"}
        assert client.post("/dashboard/alerts", data=bad).status_code == 400
        too_long = {**bad, "webhook_url": "", "spike_minutes": "600"}
        assert client.post("/dashboard/alerts", data=too_long).status_code == 400
        no_csrf = {**bad, "csrf_token": "nope", "webhook_url": ""}
        assert client.post("/dashboard/alerts", data=no_csrf).status_code == 403


def test_webhooks_to_internal_addresses_are_refused(database_url: str) -> None:
    with webhook_receiver() as (hook_url, receiver):
        app = create_app(make_settings(database_url))  # production default: no private targets
        ctx: AppContext = app.state.ctx
        with TestClient(app, base_url=PUBLIC_URL) as client:
            added = provision(client)
            sso_login(client, added.heroku_uuid, "oncall@acme.test")
            receiver.secret = configure_alerts(client, hook_url, email_enabled="")
            new = [IssueActivity(added.project_number, 7, "TypeError: x", "error", True, False, 1, int(time.time()))]
            client.portal.call(ctx.ops.alerts.on_batch, new, [])

            def attempted() -> bool:
                return [m.attempts for m in client.portal.call(lambda: ops_outbox.list_messages(ctx.db))] == [1]

            wait_until_delivered(client, ctx, attempted)
            message = client.portal.call(lambda: ops_outbox.list_messages(ctx.db))[0]
        assert "non-public address" in message.last_error
        assert receiver.deliveries == [] and receiver.rejected == 0
