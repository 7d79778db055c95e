"""POST /exceptions and friends through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import gzip
import time
import uuid
import zlib
from typing import Any

import brotli
import orjson
import pytest
from starlette.testclient import TestClient

from app.context import AppContext, IssueActivity, UsageActivity
from app.routes import consume
from app.services import keys
from app.storage.ingest import month_of
from tests.conftest import Provisioned, partner_auth, provision


def ctx_of(client: TestClient) -> AppContext:
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def rows(client: TestClient, query: str, **values: Any) -> list[dict[str, Any]]:
    db = ctx_of(client).db

    async def run() -> list[dict[str, Any]]:
        async with db.connection() as conn:
            return [dict(row._mapping) for row in await conn.fetch_all(query, values)]

    return client.portal.call(run)  # type: ignore[union-attr]


def execute(client: TestClient, query: str, **values: Any) -> None:
    db = ctx_of(client).db

    async def run() -> None:
        async with db.transaction() as conn:
            await conn.execute(query, values)

    client.portal.call(run)  # type: ignore[union-attr]


def scalar(client: TestClient, query: str, **values: Any) -> Any:
    return next(iter(rows(client, query, **values)[0].values()))


def exception_event(
    type_: str = "ValueError", value: str = "bad input 42", function: str = "index", **fields: Any
) -> dict[str, Any]:
    return {
        "exception": [
            {
                "type": type_,
                "value": value,
                "frames": [
                    {
                        "filename": "app/views.py",
                        "module": "app.views",
                        "function": function,
                        "lineno": 12,
                        "in_app": True,
                    }
                ],
            }
        ],
        **fields,
    }


def post(client: TestClient, resource: Provisioned, body: Any, **headers: str) -> Any:
    return client.post("/exceptions", json=body, headers={**resource.basic_auth(), **headers})


def post_raw(client: TestClient, resource: Provisioned, content: bytes, **headers: str) -> Any:
    return client.post(
        "/exceptions", content=content, headers={**resource.basic_auth(), "content-type": "application/json", **headers}
    )


def issue_rows(client: TestClient) -> list[dict[str, Any]]:
    return rows(client, "SELECT * FROM issues ORDER BY id")


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    """Poll until true (background work: listeners, drops flushed with the next batch)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# --- the happy path ---------------------------------------------------------------------------


def test_event_is_stored_with_issue_and_counters(client: TestClient, resource: Provisioned) -> None:
    reply = post(client, resource, exception_event(environment="production", release="v42", tags={"k": "v"}))
    assert reply.status_code == 202, reply.text
    event_id = reply.json()["id"]
    assert len(event_id) == 32

    [event] = rows(client, "SELECT * FROM events")
    assert event["event_id"] == event_id and event["environment"] == "production" and event["release"] == "v42"
    payload = orjson.loads(event["payload"])
    assert payload["level"] == "error" and payload["tags"] == {"k": "v"} and isinstance(payload["received_at"], int)
    assert set(payload) >= {"event_id", "timestamp", "exception", "request", "user", "breadcrumbs", "sdk"}

    [issue] = issue_rows(client)
    assert (issue["title"], issue["culprit"], issue["count"], issue["status"]) == (
        "ValueError: bad input 42",
        "app.views in index",
        1,
        "unresolved",
    )
    assert event["issue_id"] == issue["id"]
    hour = event["received_at"] // 3600
    assert rows(client, "SELECT hour, count FROM issue_hourly") == [{"hour": hour, "count": 1}]
    assert rows(client, "SELECT hour, count FROM project_hourly") == [{"hour": hour, "count": 1}]
    assert scalar(client, "SELECT events FROM usage_monthly WHERE month = :m", m=month_of(event["received_at"])) == 1
    facets = rows(client, "SELECT name, value FROM issue_facets ORDER BY name")
    assert facets == [{"name": "environment", "value": "production"}, {"name": "release", "value": "v42"}]


def test_same_stack_groups_and_counts(client: TestClient, resource: Provisioned) -> None:
    for i in range(3):
        assert post(client, resource, exception_event(value=f"user {i} missing")).status_code == 202
    assert post(client, resource, exception_event(function="detail")).status_code == 202
    assert sorted(issue["count"] for issue in issue_rows(client)) == [1, 3]
    assert scalar(client, "SELECT SUM(count) AS n FROM issue_hourly") == 4


def test_repeated_event_id_is_stored_and_counted_once(client: TestClient, resource: Provisioned) -> None:
    event_id = uuid.uuid4().hex
    for _ in range(3):
        reply = post(client, resource, exception_event(event_id=event_id))
        assert reply.status_code == 202 and reply.json() == {"id": event_id}
    assert scalar(client, "SELECT COUNT(*) AS n FROM events") == 1
    assert [issue["count"] for issue in issue_rows(client)] == [1]
    assert scalar(client, "SELECT SUM(count) AS n FROM issue_hourly") == 1
    assert scalar(client, "SELECT SUM(count) AS n FROM project_hourly") == 1
    assert scalar(client, "SELECT SUM(events) AS n FROM usage_monthly") == 1


def test_same_event_id_in_two_projects_is_two_events(client: TestClient, resource: Provisioned) -> None:
    other = provision(client)
    event_id = uuid.uuid4().hex
    assert post(client, resource, exception_event(event_id=event_id)).status_code == 202
    assert post(client, other, exception_event(event_id=event_id)).status_code == 202
    assert scalar(client, "SELECT COUNT(*) AS n FROM events") == 2


def test_resolved_issue_reopens_as_regressed(client: TestClient, resource: Provisioned) -> None:
    seen: list[IssueActivity] = []

    async def listener(issues: Any, usage: Any) -> None:
        seen.extend(issues)

    ctx_of(client).batch_listeners.append(listener)
    assert post(client, resource, exception_event()).status_code == 202
    execute(client, "UPDATE issues SET status = 'resolved', resolved_at = 1")
    assert post(client, resource, exception_event()).status_code == 202
    [issue] = issue_rows(client)
    assert (issue["status"], bool(issue["regressed"]), issue["count"], issue["resolved_at"]) == (
        "unresolved",
        True,
        2,
        None,
    )
    wait_for(lambda: len(seen) == 2)
    assert [(a.new, a.regressed, a.events) for a in seen] == [(True, False, 1), (False, True, 1)]


def test_ignored_issue_counts_but_stays_ignored(client: TestClient, resource: Provisioned) -> None:
    assert post(client, resource, exception_event()).status_code == 202
    execute(client, "UPDATE issues SET status = 'ignored'")
    assert post(client, resource, exception_event()).status_code == 202
    [issue] = issue_rows(client)
    assert (issue["status"], bool(issue["regressed"]), issue["count"]) == ("ignored", False, 2)


def test_listener_failure_is_logged_not_raised(client: TestClient, resource: Provisioned) -> None:
    calls: list[int] = []

    async def broken(issues: Any, usage: Any) -> None:
        calls.append(1)
        raise RuntimeError("listener bug")

    async def usage_listener(issues: Any, usage: Any) -> None:
        calls.extend(u.events for u in usage)

    ctx_of(client).batch_listeners.extend([broken, usage_listener])
    assert post(client, resource, exception_event()).status_code == 202
    assert post(client, resource, exception_event()).status_code == 202
    wait_for(lambda: calls.count(1) >= 2 and 2 in calls)


# --- quotas -----------------------------------------------------------------------------------


def use_up_quota(client: TestClient, resource: Provisioned, events: int) -> None:
    now = int(time.time())
    execute(
        client,
        "INSERT INTO usage_monthly (resource_id, month, events, warned_80, warned_100) VALUES (:r, :m, :e, FALSE, FALSE) "
        "ON CONFLICT (resource_id, month) DO UPDATE SET events = excluded.events",
        r=resource.project_number,
        m=month_of(now),
        e=events,
    )


def test_quota_overage_rules(client: TestClient) -> None:
    resource = provision(client, plan="test")  # 1,000 events a month
    assert post(client, resource, exception_event("OldError")).status_code == 202
    use_up_quota(client, resource, 1_000)

    # An existing issue: one event this hour is kept, the next is refused.
    assert post(client, resource, exception_event("OldError")).status_code == 202
    refused = post(client, resource, exception_event("OldError"))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert refused.headers["x-sentry-rate-limits"].endswith("::organization:quota_exceeded")
    # Refused again (now straight from the process's quota knowledge, without a batch).
    assert post(client, resource, exception_event("OldError")).status_code == 429

    # A new issue: its first event is kept, the next one is not (its hourly event is used).
    assert post(client, resource, exception_event("NewError")).status_code == 202
    assert post(client, resource, exception_event("NewError")).status_code == 429

    counts = {issue["type"]: issue["count"] for issue in issue_rows(client)}
    assert counts == {"OldError": 2, "NewError": 1}
    assert scalar(client, "SELECT COUNT(*) AS n FROM events") == 3
    wait_for(
        lambda: (
            scalar(
                client,
                "SELECT COALESCE(SUM(count), 0) AS n FROM drops_daily WHERE source = 'server' AND reason = 'quota'",
            )
            == 3
        )
    )


def test_plan_upgrade_lifts_the_quota_at_once(client: TestClient) -> None:
    resource = provision(client, plan="test")
    assert post(client, resource, exception_event()).status_code == 202
    use_up_quota(client, resource, 1_000)
    assert post(client, resource, exception_event()).status_code == 202  # the hourly event
    assert post(client, resource, exception_event()).status_code == 429
    reply = client.put(f"/heroku/resources/{resource.heroku_uuid}", json={"plan": "basic"}, headers=partner_auth())
    assert reply.status_code == 200
    for _ in range(3):
        assert post(client, resource, exception_event()).status_code == 202


# --- auth -------------------------------------------------------------------------------------


def test_missing_or_wrong_key_is_401(client: TestClient, resource: Provisioned) -> None:
    assert client.post("/exceptions", json=exception_event()).status_code == 401
    wrong = {"Authorization": "Basic " + base64.b64encode(b"0123456789abcdef0123456789abcdef:").decode()}
    reply = client.post("/exceptions", json=exception_event(), headers=wrong)
    assert reply.status_code == 401 and reply.json()["message"]
    assert scalar(client, "SELECT COUNT(*) AS n FROM events") == 0


def test_deprovisioned_key_is_refused_at_once(client: TestClient, resource: Provisioned) -> None:
    assert post(client, resource, exception_event()).status_code == 202  # the key is now cached
    assert client.delete(f"/heroku/resources/{resource.heroku_uuid}", headers=partner_auth()).status_code == 204
    assert post(client, resource, exception_event()).status_code == 401


def test_keys_remembered_by_header_stay_correct_and_bounded(client: TestClient, resource: Provisioned) -> None:
    consume._KEYS.clear()
    keys._HASHES.clear()
    for _ in range(2):  # the second time from the memos
        assert post(client, resource, exception_event()).status_code == 202
        bearer = {"Authorization": f"Bearer {resource.key}"}
        assert client.post("/exceptions", json=exception_event(), headers=bearer).status_code == 401
    assert set(consume._KEYS.values()) == {resource.key, ""} and set(keys._HASHES) == {resource.key}
    for i in range(consume.MAX_KEYS):
        consume._KEYS[f"Basic made-up-{i}".encode()] = ""  # what a flood of made-up keys leaves
    made_up = {"Authorization": "Basic " + base64.b64encode(b"0123456789abcdef0123456789abcdef:").decode()}
    assert client.post("/exceptions", json=exception_event(), headers=made_up).status_code == 401
    assert len(consume._KEYS) <= consume.MAX_KEYS
    assert post(client, resource, exception_event()).status_code == 202
    long_header = "Basic " + base64.b64encode(b"x" * 300 + b":").decode()
    assert client.post("/exceptions", json=exception_event(), headers={"Authorization": long_header}).status_code == 401
    assert long_header.encode() not in consume._KEYS  # decoded every time, not kept


# --- limits and bad input ---------------------------------------------------------------------


def test_body_over_one_mib_is_413(client: TestClient, resource: Provisioned) -> None:
    body = orjson.dumps(exception_event(extra={"blob": "x" * (1024 * 1024)}))
    assert post_raw(client, resource, body).status_code == 413


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),
        ("br", brotli.compress),
    ],
    ids=["gzip", "deflate", "raw-deflate", "br"],
)
def test_compressed_bodies(client: TestClient, resource: Provisioned, encoding: str, compress: Any) -> None:
    body = orjson.dumps(exception_event())
    reply = post_raw(client, resource, compress(body), **{"content-encoding": encoding})
    assert reply.status_code == 202, reply.text
    bomb = compress(b'{"message": "' + b"a" * (8 * 1024 * 1024) + b'"}')
    assert len(bomb) < 1024 * 1024
    reply = post_raw(client, resource, bomb, **{"content-encoding": encoding})
    assert reply.status_code == 413 and "decompressed" in reply.json()["message"]


def test_corrupt_or_unknown_encoding_is_400(client: TestClient, resource: Provisioned) -> None:
    body = orjson.dumps(exception_event())
    assert post_raw(client, resource, body, **{"content-encoding": "gzip"}).status_code == 400
    assert post_raw(client, resource, gzip.compress(body)[:-10], **{"content-encoding": "gzip"}).status_code == 400
    assert post_raw(client, resource, body, **{"content-encoding": "zstd"}).json()["field"] == "content-encoding"


def test_long_fields_are_truncated_with_a_marker(client: TestClient, resource: Provisioned) -> None:
    frames = [{"function": f"f{i}", "module": "app.m", "in_app": True} for i in range(400)]
    body = exception_event(
        value="v" * 10_000, environment="e" * 100, extra={"big": "x" * 5000}, breadcrumbs=[{"message": "m"}] * 150
    )
    body["exception"][0]["frames"] = frames
    assert post(client, resource, body).status_code == 202
    payload = orjson.loads(scalar(client, "SELECT payload FROM events"))
    exc = payload["exception"][0]
    assert len(exc["value"]) == 4096 and exc["value"].endswith("…[truncated]")
    assert payload["environment"].endswith("…[truncated]") and len(payload["environment"]) == 64
    assert payload["extra"]["big"].endswith("…[truncated]")
    assert (
        len(exc["frames"]) == 250 and exc["frames"][0]["function"] == "f0" and exc["frames"][-1]["function"] == "f399"
    )
    assert len(payload["breadcrumbs"]) == 100


BAD_INPUT = [
    (b"not json", None),
    (b"[1, 2]", None),
    (b'{"level": "error"}', "exception"),
    (b'{"exception": "boom"}', "exception"),
    (b'{"exception": [42]}', "exception[0]"),
    (b'{"exception": [{"type": "E", "frames": {"a": 1}}]}', "exception[0].frames"),
    (b'{"exception": [{"type": "E", "frames": [{"lineno": "x"}]}]}', "exception[0].frames[0].lineno"),
    (b'{"exception": [{"type": "E", "frames": [{"vars": []}]}]}', "exception[0].frames[0].vars"),
    (b'{"message": 12.5e400}', None),
    (b'{"message": ["a"]}', "message"),
    (b'{"message": "m", "event_id": "nope"}', "event_id"),
    (b'{"message": "m", "timestamp": "yesterday"}', "timestamp"),
    (b'{"message": "m", "timestamp": true}', "timestamp"),
    (b'{"message": "m", "level": 3}', "level"),
    (b'{"message": "m", "tags": "a"}', "tags"),
    (b'{"message": "m", "user": "ann"}', "user"),
    (b'{"exception": {"values": 3}}', "exception"),
    (b'{"message": "m", "breadcrumbs": [1]}', "breadcrumbs[0]"),
    (b'{"message": "m", "breadcrumbs": {"crumbs": []}}', "breadcrumbs"),
    (b'{"message": "m", "fingerprint": "x"}', "fingerprint"),
    (b'{"message": "m", "release": {"v": 1}}', "release"),
    (b'{"message": "\\ud800"}', None),
    (b'{"exception": [{"type": "E", "frames": [{"lineno": 1e29}]}]}', "exception[0].frames[0].lineno"),
]


def test_bad_input_is_400_naming_the_field(client: TestClient, resource: Provisioned) -> None:
    for body, field in BAD_INPUT:
        reply = post_raw(client, resource, body)
        assert reply.status_code == 400, (body, reply.text)
        assert reply.json()["message"]
        if field:
            assert reply.json().get("field") == field, (body, reply.text)
    assert scalar(client, "SELECT COUNT(*) AS n FROM events") == 0


def test_unknown_fields_and_odd_values_are_accepted(client: TestClient, resource: Provisioned) -> None:
    body = {
        "message": "m\x00with nul",
        "environment": "prod\x00",
        "level": "WARN",
        "timestamp": "2026-01-02T03:04:05.123Z",
        "whatever": {"a": 1},
        "event_id": str(uuid.uuid4()),
        "exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"function": "f", "in_app": True}]}}]},
        "tags": [["a", "b"]],
    }
    assert post(client, resource, body).status_code == 202
    payload = orjson.loads(scalar(client, "SELECT payload FROM events"))
    assert payload["level"] == "warning" and "whatever" not in payload and payload["tags"] == {"a": "b"}
    assert payload["timestamp"] == pytest.approx(1767323045.123)
    assert payload["exception"][0]["frames"][0]["function"] == "f"
    assert scalar(client, "SELECT environment FROM events") == "prod"


def test_secrets_are_scrubbed_before_storage(client: TestClient, resource: Provisioned) -> None:
    body = exception_event(
        value="card 4111 1111 1111 1111 declined",
        request={"headers": {"Authorization": "Bearer sk_live_abc"}, "data": {"password": "hunter2"}},
        extra={"nested": [{"api_key": "k-123"}]},
    )
    body["exception"][0]["frames"][0]["vars"] = {"session": {"token": "'t0k'"}}
    assert post(client, resource, body).status_code == 202
    stored = scalar(client, "SELECT payload FROM events") + scalar(client, "SELECT title FROM issues")
    for secret in ("4111", "sk_live_abc", "hunter2", "k-123", "t0k"):
        assert secret not in stored


# --- the other endpoints ----------------------------------------------------------------------


def test_client_reports_count_drops(client: TestClient, resource: Provisioned) -> None:
    report = {"discarded_events": [{"reason": "queue_full", "quantity": 3}, {"reason": "queue_full", "quantity": 2}]}
    reply = client.post("/client-reports", json=report, headers=resource.basic_auth())
    assert reply.status_code == 202
    assert rows(client, "SELECT source, reason, count FROM drops_daily") == [
        {"source": "client", "reason": "queue_full", "count": 5}
    ]
    bad = client.post(
        "/client-reports", json={"discarded_events": [{"reason": "x", "quantity": "3"}]}, headers=resource.basic_auth()
    )
    assert bad.status_code == 400 and bad.json()["field"] == "discarded_events[0].quantity"
    assert client.post("/client-reports", json=report).status_code == 401


def test_ping_and_openapi(client: TestClient) -> None:
    assert client.post("/ping", json={"a": 1}).json() == {"ok": True}
    assert client.post("/ping", content=b"{").status_code == 400
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) >= {"/exceptions", "/client-reports", "/ping"}
    event = document["components"]["schemas"]["Event"]["properties"]
    assert {"exception", "fingerprint", "breadcrumbs", "event_id", "request"} <= set(event)


def test_usage_activity_reports_quota(client: TestClient, resource: Provisioned) -> None:
    seen: list[UsageActivity] = []

    async def listener(issues: Any, usage: Any) -> None:
        seen.extend(usage)

    ctx_of(client).batch_listeners.append(listener)
    assert post(client, resource, exception_event()).status_code == 202
    wait_for(lambda: bool(seen))
    assert (seen[0].resource_id, seen[0].events, seen[0].quota) == (resource.project_number, 1, 10_000)
