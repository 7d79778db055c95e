"""The Sentry endpoints over HTTP: keys, projects, envelopes, store, replies, CORS (on both databases)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
import zlib
from typing import Any

import brotli
import orjson
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from app.settings import Settings
from app.storage.engine import Database
from app.storage.ingest import month_of
from app.storage.tables import drops_daily, events, issues, usage_monthly
from tests.conftest import SSO_SALT, Provisioned, provision

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"
OTHER_ID = "0b5d2a7e1c3f4e6a8b9c0d1e2f3a4b5c"


def fetch_all(database_url: str, query: sa.Select[Any]) -> list[dict[str, Any]]:
    """Rows read through a connection of our own: what was committed, whoever wrote it."""

    async def run() -> list[dict[str, Any]]:
        db = Database(database_url)
        await db.connect()
        try:
            async with db.connection() as conn:
                return [dict(row._mapping) for row in await conn.fetch_all(query)]
        finally:
            await db.disconnect()

    return asyncio.run(run())


def use_up_quota(database_url: str, resource_id: int, events_used: int) -> None:
    """This month's usage set to `events_used`, as if the resource had sent that many events."""

    async def run() -> None:
        db = Database(database_url)
        await db.connect()
        try:
            async with db.transaction() as conn:
                await conn.execute(
                    sa.insert(usage_monthly).values(
                        resource_id=resource_id, month=month_of(int(time.time())), events=events_used
                    )
                )
        finally:
            await db.disconnect()

    asyncio.run(run())


def stored_events(database_url: str, resource_id: int) -> list[dict[str, Any]]:
    """The stored events of a resource, oldest first, with their payload decoded."""
    query = sa.select(events).where(events.c.resource_id == resource_id).order_by(events.c.id)
    return [{**row, "payload": orjson.loads(row["payload"])} for row in fetch_all(database_url, query)]


def stored_issues(database_url: str, resource_id: int) -> list[dict[str, Any]]:
    return fetch_all(database_url, sa.select(issues).where(issues.c.resource_id == resource_id).order_by(issues.c.id))


def envelope_body(*items: tuple[dict[str, Any], bytes], header: dict[str, Any] | None = None) -> bytes:
    lines = [orjson.dumps(header or {})]
    for item_header, payload in items:
        lines += [orjson.dumps(item_header), payload]
    return b"\n".join(lines) + b"\n"


def event_item(event: dict[str, Any], with_length: bool = True) -> tuple[dict[str, Any], bytes]:
    payload = orjson.dumps(event)
    header: dict[str, Any] = {"type": "event", "content_type": "application/json"}
    if with_length:
        header["length"] = len(payload)
    return header, payload


def sentry_auth(key: str) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.test/1.0"}


def error_event(event_id: str = EVENT_ID, message: str = "bad input") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "platform": "python",
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": message,
                    "stacktrace": {
                        "frames": [{"module": "app.views", "function": "index", "lineno": 3, "in_app": True}]
                    },
                }
            ]
        },
    }


def post_envelope(client: TestClient, resource: Provisioned, body: bytes, **kwargs: Any) -> Any:
    return client.post(f"/api/{resource.project_number}/envelope/", content=body, **kwargs)


def test_envelope_event_is_stored_and_answered_with_its_id(
    client: TestClient, resource: Provisioned, settings: Settings
) -> None:
    body = envelope_body(event_item(error_event()), header={"event_id": EVENT_ID})
    reply = post_envelope(client, resource, body, headers=sentry_auth(resource.key))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"id": EVENT_ID}
    assert reply.headers["access-control-allow-origin"] == "*"
    [stored] = stored_events(settings.database_url, resource.project_number)
    assert stored["event_id"] == EVENT_ID
    assert stored["payload"]["exception"][0]["frames"][0]["function"] == "index"
    assert stored_issues(settings.database_url, resource.project_number)[0]["title"] == "ValueError: bad input"


@pytest.mark.parametrize("where", ["query", "dsn", "authorization", "basic"])
def test_the_key_may_come_from_query_dsn_or_authorization(
    client: TestClient, resource: Provisioned, settings: Settings, where: str
) -> None:
    header: dict[str, Any] = {}
    params: dict[str, str] = {}
    headers: dict[str, str] = {}
    if where == "query":
        params = {"sentry_key": resource.key, "sentry_version": "7"}
    elif where == "dsn":
        header = {"dsn": f"https://{resource.key}@tracebin.test/{resource.project_number}"}
    elif where == "authorization":
        headers = {"Authorization": f"Sentry sentry_key={resource.key}, sentry_version=7"}
    else:
        headers = resource.basic_auth()
    body = envelope_body(event_item(error_event(), with_length=False), header=header)
    reply = post_envelope(client, resource, body, params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    assert len(stored_events(settings.database_url, resource.project_number)) == 1


def test_missing_or_unknown_key_is_401(client: TestClient, resource: Provisioned) -> None:
    body = envelope_body(event_item(error_event()))
    missing = post_envelope(client, resource, body)
    assert missing.status_code == 401
    assert "sentry_key" in missing.json()["message"]
    assert missing.headers["x-sentry-error"]
    unknown = post_envelope(client, resource, body, headers=sentry_auth("0" * 32))
    assert unknown.status_code == 401
    assert unknown.headers["access-control-allow-origin"] == "*"


def test_a_key_of_another_project_is_403(client: TestClient, resource: Provisioned, settings: Settings) -> None:
    other = provision(client)
    body = envelope_body(event_item(error_event()))
    reply = client.post(f"/api/{other.project_number}/envelope/", content=body, headers=sentry_auth(resource.key))
    assert reply.status_code == 403
    assert str(other.project_number) in reply.json()["message"]
    assert stored_events(settings.database_url, other.project_number) == []
    assert stored_events(settings.database_url, resource.project_number) == []


def test_several_events_are_all_stored_and_the_first_id_answered(
    client: TestClient, resource: Provisioned, settings: Settings
) -> None:
    body = envelope_body(
        event_item(error_event(EVENT_ID)),
        ({"type": "attachment", "length": 5, "filename": "a.txt"}, b"12345"),
        ({"type": "profile_chunk"}, b'{"whatever": 1}'),
        event_item({"event_id": OTHER_ID, "message": "second", "level": "info"}, with_length=False),
        event_item({"message": "third, without an id"}),
        header={"event_id": EVENT_ID},
    )
    reply = post_envelope(client, resource, body, headers=sentry_auth(resource.key))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"id": EVENT_ID}
    stored = stored_events(settings.database_url, resource.project_number)
    assert len(stored) == 3  # the header's event_id named the first event only
    assert {EVENT_ID, OTHER_ID} <= {event["event_id"] for event in stored}


def test_client_reports_become_client_drops(client: TestClient, resource: Provisioned, settings: Settings) -> None:
    report = {
        "timestamp": 1763800000,
        "discarded_events": [
            {"reason": "queue_overflow", "category": "error", "quantity": 4},
            {"reason": "sample_rate", "category": "transaction", "quantity": 9},
        ],
    }
    body = envelope_body(({"type": "client_report"}, orjson.dumps(report)))
    reply = post_envelope(client, resource, body, headers=sentry_auth(resource.key))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {}
    rows = fetch_all(
        settings.database_url, sa.select(drops_daily).where(drops_daily.c.resource_id == resource.project_number)
    )
    assert [(row["source"], row["reason"], row["count"]) for row in rows] == [("client", "queue_overflow", 4)]


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)],
)
def test_compressed_envelopes(
    client: TestClient, resource: Provisioned, settings: Settings, encoding: str, compress: Any
) -> None:
    body = compress(envelope_body(event_item(error_event())))
    headers = {**sentry_auth(resource.key), "Content-Encoding": encoding}
    reply = post_envelope(client, resource, body, headers=headers)
    assert reply.status_code == 200, reply.text
    assert len(stored_events(settings.database_url, resource.project_number)) == 1


def test_malformed_envelopes_are_400_with_the_reason(client: TestClient, resource: Provisioned) -> None:
    reply = post_envelope(
        client, resource, b'{}\n{"type":"event","length":99}\n{}\n', headers=sentry_auth(resource.key)
    )
    assert reply.status_code == 400
    assert "shorter than its length" in reply.json()["message"]
    bad_event = envelope_body(({"type": "event"}, b"{not json"))
    reply = post_envelope(client, resource, bad_event, headers=sentry_auth(resource.key))
    assert reply.status_code == 400
    assert "event item: malformed JSON" in reply.json()["message"]


def test_a_malformed_item_refuses_the_whole_envelope(
    client: TestClient, resource: Provisioned, settings: Settings
) -> None:
    body = envelope_body(event_item(error_event()), ({"type": "event"}, b"[]"))
    reply = post_envelope(client, resource, body, headers=sentry_auth(resource.key))
    assert reply.status_code == 400
    assert stored_events(settings.database_url, resource.project_number) == []


def test_bodies_past_one_mebibyte_are_413(client: TestClient, resource: Provisioned) -> None:
    big = error_event(message="x" * (1024 * 1024))
    body = envelope_body(event_item(big))
    assert post_envelope(client, resource, body, headers=sentry_auth(resource.key)).status_code == 413
    bomb = gzip.compress(b"{}\n" + b" " * (8 * 1024 * 1024))
    headers = {**sentry_auth(resource.key), "Content-Encoding": "gzip"}
    assert post_envelope(client, resource, bomb, headers=headers).status_code == 413


def test_store_endpoint(client: TestClient, resource: Provisioned, settings: Settings) -> None:
    url = f"/api/{resource.project_number}/store/"
    reply = client.post(url, content=orjson.dumps(error_event()), headers=sentry_auth(resource.key))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"id": EVENT_ID}
    compressed = gzip.compress(orjson.dumps({"event_id": OTHER_ID, "message": "hello"}))
    reply = client.post(url, content=compressed, headers={**sentry_auth(resource.key), "Content-Encoding": "gzip"})
    assert reply.status_code == 200, reply.text
    assert len(stored_events(settings.database_url, resource.project_number)) == 2
    assert client.post(url, content=b"[1, 2]", headers=sentry_auth(resource.key)).status_code == 400
    assert client.post(url, content=b"{oops", headers=sentry_auth(resource.key)).status_code == 400
    assert client.post(url, content=orjson.dumps(error_event())).status_code == 401


def test_paths_without_trailing_slash(client: TestClient, resource: Provisioned) -> None:
    body = envelope_body(event_item(error_event()))
    reply = client.post(f"/api/{resource.project_number}/envelope", content=body, headers=sentry_auth(resource.key))
    assert reply.status_code == 200, reply.text


def test_cors_preflight_without_credentials(client: TestClient, resource: Provisioned) -> None:
    reply = client.options(
        f"/api/{resource.project_number}/envelope/",
        headers={
            "Origin": "https://shop.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == "*"
    assert "POST" in reply.headers["access-control-allow-methods"]
    assert "content-type" in reply.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in reply.headers
    assert "x-sentry-rate-limits" in reply.headers["access-control-expose-headers"]


def test_browser_sdk_request_shape(client: TestClient, resource: Provisioned, settings: Settings) -> None:
    """@sentry/browser posts text/plain with the key in the query string, cross-origin."""
    body = envelope_body(event_item(error_event()), header={"event_id": EVENT_ID, "sent_at": "2025-11-22T08:00:00Z"})
    reply = client.post(
        f"/api/{resource.project_number}/envelope/?sentry_key={resource.key}&sentry_version=7&sentry_client=sentry.javascript.browser%2F8.40.0",
        content=body,
        headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.example.com"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["access-control-allow-origin"] == "*"
    assert len(stored_events(settings.database_url, resource.project_number)) == 1


def test_over_quota_is_429_with_sentry_rate_limits(client: TestClient, settings: Settings) -> None:
    resource = provision(client, plan="test")
    use_up_quota(settings.database_url, resource.project_number, 1000)
    url = f"/api/{resource.project_number}/envelope/"
    first = client.post(
        url, content=envelope_body(event_item(error_event(EVENT_ID))), headers=sentry_auth(resource.key)
    )
    assert first.status_code == 200, first.text  # the first event of a new issue is kept past the quota
    again = client.post(
        url, content=envelope_body(event_item(error_event(OTHER_ID))), headers=sentry_auth(resource.key)
    )
    assert again.status_code == 429, again.text
    retry_after = int(again.headers["retry-after"])
    assert 0 < retry_after <= 3600
    assert again.headers["x-sentry-rate-limits"] == f"{retry_after}::organization:quota_exceeded"
    assert again.headers["access-control-allow-origin"] == "*"
    assert "quota" in again.json()["message"]
    assert [event["event_id"] for event in stored_events(settings.database_url, resource.project_number)] == [EVENT_ID]


def sso_login(client: TestClient, resource: Provisioned) -> None:
    """Sign in to the dashboard the way Heroku does (the legacy `token` form its harness sends)."""
    timestamp = str(int(time.time()))
    token = hashlib.sha1(f"{resource.heroku_uuid}:{SSO_SALT}:{timestamp}".encode()).hexdigest()
    form = {
        "id": resource.heroku_uuid,
        "token": token,
        "timestamp": timestamp,
        "email": "dev@example.com",
        "app": "acme",
    }
    reply = client.post("/sso/login", data=form, follow_redirects=False)
    assert reply.status_code in (302, 303), reply.text


def test_a_sentry_event_on_the_dashboard(client: TestClient, resource: Provisioned) -> None:
    event = {
        "event_id": EVENT_ID,
        "platform": "node",
        "release": "web@1.2.3",
        "exception": {
            "values": [
                {
                    "type": "TypeError",
                    "value": "x is undefined <script>",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "/app/src/routes/users.js",
                                "function": "show",
                                "lineno": 12,
                                "context_line": "  res.json(user.<b>id</b>);",
                            }
                        ]
                    },
                }
            ]
        },
        "breadcrumbs": {"values": [{"category": "http", "message": "GET /users/12", "timestamp": 1763800000}]},
    }
    body = envelope_body(event_item(event))
    assert post_envelope(client, resource, body, headers=sentry_auth(resource.key)).status_code == 200
    sso_login(client, resource)
    listing = client.get("/dashboard", headers={"Accept": "application/json"})
    assert listing.status_code == 200, listing.text
    [issue] = listing.json()["issues"]
    assert issue["title"] == "TypeError: x is undefined <script>"
    detail = client.get(issue["url"], headers={"Accept": "application/json"}).json()
    payload = detail["event"]["payload"]
    assert payload["event_id"] == EVENT_ID
    assert payload["exception"][0]["frames"][0]["context_line"] == "  res.json(user.<b>id</b>);"
    assert payload["breadcrumbs"][0]["message"] == "GET /users/12"
    page = client.get(issue["url"], headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "res.json(user.&lt;b&gt;id&lt;/b&gt;);" in page.text  # shown, escaped
    assert "<b>id</b>" not in page.text
