"""The Heroku partner API, through the real HTTP stack, on SQLite and PostgreSQL (PROTOCOL.md §1)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from app.settings import Settings
from tests.conftest import ADDON_PASSWORD, partner_auth, provision
from tests.support import query

MANIFEST = json.loads((Path(__file__).resolve().parent.parent / "addon-manifest.json").read_text())

V3_BODY = {
    "callback_url": "https://api.heroku.com/addons/01234567-89ab-cdef-0123-456789abcdef",
    "name": "acme-inc-primary-database",
    "oauth_grant": {"code": "01234567-89ab-cdef-0123-456789abcdef", "expires_at": "2026-11-22T12:00:00Z"},
    "options": {"foo": "bar"},
    "plan": "basic",
    "region": "amazon-web-services::us-east-1",
    "log_input_url": "https://token:t.01234567@1.us.logplex.io/logs",
    "log_drain_token": "d.01234567-89ab-cdef-0123-456789abcdef",
    "uuid": "01234567-89ab-cdef-0123-456789abcdef",
    "an_unknown_future_field": {"nested": True},
}

V1_BODY = {
    "heroku_id": "app123@heroku.com",
    "plan": "test",
    "callback_url": "http://localhost:7779/callback/999",
    "logplex_token": "t.abc123",
    "region": "amazon-web-services::us-east-1",
    "options": {},
    "uuid": "abcdef01-2345-6789-abcd-ef0123456789",
}


def resource_rows(settings: Settings) -> list[dict[str, object]]:
    return query.rows(settings.database_url, "SELECT * FROM resources ORDER BY id")


def test_provision_v3_returns_uuid_and_dsn_shaped_config(client: TestClient, settings: Settings) -> None:
    reply = client.post("/heroku/resources", json=V3_BODY, headers=partner_auth())
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["id"] == V3_BODY["uuid"]
    assert body["message"]
    assert sorted(body["config"]) == MANIFEST["api"]["config_vars"]
    url = urlsplit(body["config"]["TRACEBIN_URL"])
    assert url.scheme == "https"
    assert url.hostname == "tracebin.test"
    assert url.username and len(url.username) == 32
    [row] = resource_rows(settings)
    assert url.path == f"/{row['id']}"
    assert row["plan"] == "basic"
    assert row["app_name"] == V3_BODY["name"]
    assert row["region"] == V3_BODY["region"]


def test_api_key_is_stored_only_as_its_hash(client: TestClient, settings: Settings) -> None:
    key = provision(client).key
    [row] = resource_rows(settings)
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in json.dumps(row, default=str)


def test_provision_v1_body(client: TestClient, settings: Settings) -> None:
    reply = client.post("/heroku/resources", json=V1_BODY, headers=partner_auth())
    assert reply.status_code == 200
    assert reply.json()["id"] == V1_BODY["uuid"]
    [row] = resource_rows(settings)
    assert row["plan"] == "test"
    assert row["app_name"] == "app123@heroku.com"


def test_repeated_provision_returns_the_same_resource(client: TestClient, settings: Settings) -> None:
    first = client.post("/heroku/resources", json=V3_BODY, headers=partner_auth())
    second = client.post("/heroku/resources", json={**V3_BODY, "plan": "pro"}, headers=partner_auth())
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert len(resource_rows(settings)) == 1


def test_each_uuid_gets_its_own_key_and_project(client: TestClient) -> None:
    one, two = provision(client), provision(client)
    assert one.key != two.key
    assert one.project_number != two.project_number


@pytest.mark.parametrize(
    "headers",
    [
        {},
        partner_auth("wrong-password"),
        {"Authorization": "Basic bm90LWJhc2U2NA=="},
        {"Authorization": "Bearer " + ADDON_PASSWORD},
        {"Authorization": "Basic !!!"},
    ],
    ids=["missing", "wrong-password", "no-colon", "wrong-scheme", "not-base64"],
)
def test_wrong_or_missing_credentials_get_401(client: TestClient, settings: Settings, headers: dict[str, str]) -> None:
    for method, path in [
        ("POST", "/heroku/resources"),
        ("PUT", "/heroku/resources/x"),
        ("DELETE", "/heroku/resources/x"),
    ]:
        reply = client.request(method, path, json=V3_BODY, headers=headers)
        assert reply.status_code == 401
        assert reply.headers["www-authenticate"].startswith("Basic")
        assert reply.json()["message"]
    assert resource_rows(settings) == []


def test_wrong_user_gets_401(client: TestClient) -> None:
    import base64

    token = base64.b64encode(f"other:{ADDON_PASSWORD}".encode()).decode()
    reply = client.post("/heroku/resources", json=V3_BODY, headers={"Authorization": f"Basic {token}"})
    assert reply.status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"plan": "hobby"}, 422, "uuid"),
        ({"uuid": "u-1"}, 422, "plan"),
        ({"uuid": "u-1", "plan": "platinum"}, 422, "plan"),
        ({"uuid": 12, "plan": "hobby"}, 422, "uuid"),
        ({"uuid": "u-1", "plan": "hobby", "options": "x"}, 422, "options"),
        ({"uuid": "u-1", "plan": "hobby", "region": 5}, 422, "region"),
    ],
)
def test_unservable_provisions_get_422_and_write_nothing(
    client: TestClient, settings: Settings, body: dict[str, object], status: int, field: str
) -> None:
    reply = client.post("/heroku/resources", json=body, headers=partner_auth())
    assert reply.status_code == status
    assert reply.json()["field"] == field
    assert reply.json()["message"]
    assert resource_rows(settings) == []


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"'])
def test_malformed_bodies_get_400_json(client: TestClient, settings: Settings, raw: bytes) -> None:
    reply = client.post(
        "/heroku/resources", content=raw, headers={**partner_auth(), "content-type": "application/json"}
    )
    assert reply.status_code == 400
    assert reply.json()["message"]
    assert resource_rows(settings) == []


def test_body_over_64_kib_gets_413(client: TestClient, settings: Settings) -> None:
    body = {**V3_BODY, "options": {"blob": "x" * (65 * 1024)}}
    reply = client.post("/heroku/resources", json=body, headers=partner_auth())
    assert reply.status_code == 413
    assert reply.json()["message"]
    assert resource_rows(settings) == []


def test_plan_change_applies_and_keeps_the_key(client: TestClient, settings: Settings) -> None:
    resource = provision(client, plan="hobby")
    reply = client.put(
        f"/heroku/resources/{resource.heroku_uuid}", json={"plan": "pro", "extra": 1}, headers=partner_auth()
    )
    assert reply.status_code == 200
    body = reply.json()
    assert "pro" in body["message"]
    assert body["config"]["TRACEBIN_URL"] == resource.tracebin_url
    assert resource_rows(settings)[0]["plan"] == "pro"


def test_plan_change_errors(client: TestClient, settings: Settings) -> None:
    resource = provision(client, plan="hobby")
    path = f"/heroku/resources/{resource.heroku_uuid}"
    unknown_plan = client.put(path, json={"plan": "platinum"}, headers=partner_auth())
    assert unknown_plan.status_code == 422
    assert unknown_plan.json()["field"] == "plan"
    missing = client.put("/heroku/resources/no-such-uuid", json={"plan": "pro"}, headers=partner_auth())
    assert missing.status_code == 404
    assert missing.json()["message"]
    malformed = client.put(path, content=b"{", headers={**partner_auth(), "content-type": "application/json"})
    assert malformed.status_code == 400
    assert resource_rows(settings)[0]["plan"] == "hobby"


def _seed_owned_rows(settings: Settings, resource_id: int) -> None:
    url = settings.database_url
    query.execute(
        url,
        "INSERT INTO issues (resource_id, fingerprint, title, first_seen, last_seen, count) "
        "VALUES (:r, :f, 'ZeroDivisionError', 1, 2, 1)",
        r=resource_id,
        f=f"fp-{resource_id}",
    )
    issue_id = query.value(url, "SELECT id FROM issues WHERE resource_id = :r", r=resource_id)
    query.execute(
        url,
        "INSERT INTO events (resource_id, issue_id, event_id, received_at, timestamp, payload) "
        "VALUES (:r, :i, :e, 1, 1.0, '{}')",
        r=resource_id,
        i=issue_id,
        e=uuid.uuid4().hex,
    )
    query.execute(url, "INSERT INTO issue_hourly (issue_id, hour, count) VALUES (:i, 1, 1)", i=issue_id)
    query.execute(url, "INSERT INTO project_hourly (resource_id, hour, count) VALUES (:r, 1, 1)", r=resource_id)
    query.execute(url, "INSERT INTO usage_monthly (resource_id, month, events) VALUES (:r, 202611, 1)", r=resource_id)


def _owned_counts(settings: Settings, resource_id: int) -> dict[str, int]:
    url = settings.database_url
    return {
        table: query.value(url, f"SELECT COUNT(*) FROM {table} WHERE resource_id = :r", r=resource_id)
        for table in ("issues", "events", "project_hourly", "usage_monthly")
    } | {
        "issue_hourly": query.value(
            url,
            "SELECT COUNT(*) FROM issue_hourly WHERE issue_id IN (SELECT id FROM issues WHERE resource_id = :r)",
            r=resource_id,
        )
    }


def test_deprovision_revokes_the_key_and_purges_only_that_resource(client: TestClient, settings: Settings) -> None:
    gone, kept = provision(client), provision(client)
    for resource in (gone, kept):
        _seed_owned_rows(settings, resource.project_number)
    reply = client.delete(f"/heroku/resources/{gone.heroku_uuid}", headers=partner_auth())
    assert reply.status_code == 204
    rows = {row["heroku_uuid"]: row for row in resource_rows(settings)}
    assert rows[gone.heroku_uuid]["status"] == "deprovisioned"
    assert rows[gone.heroku_uuid]["key_hash"] is None
    assert rows[kept.heroku_uuid]["key_hash"] == hashlib.sha256(kept.key.encode()).hexdigest()
    assert set(_owned_counts(settings, gone.project_number).values()) == {0}
    assert set(_owned_counts(settings, kept.project_number).values()) == {1}


def test_repeated_and_unknown_deprovision_answer_2xx(client: TestClient) -> None:
    resource = provision(client)
    path = f"/heroku/resources/{resource.heroku_uuid}"
    assert client.delete(path, headers=partner_auth()).status_code == 204
    assert client.delete(path, headers=partner_auth()).status_code == 204
    assert client.delete("/heroku/resources/never-existed", headers=partner_auth()).status_code == 204


def test_a_deprovisioned_resource_cannot_come_back(client: TestClient) -> None:
    resource = provision(client)
    client.delete(f"/heroku/resources/{resource.heroku_uuid}", headers=partner_auth())
    again = client.post(
        "/heroku/resources", json={"uuid": resource.heroku_uuid, "plan": "hobby"}, headers=partner_auth()
    )
    assert again.status_code == 422
    replan = client.put(f"/heroku/resources/{resource.heroku_uuid}", json={"plan": "pro"}, headers=partner_auth())
    assert replan.status_code == 404


def test_health_checks_the_database(client: TestClient) -> None:
    reply = client.get("/health")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "database": "ok"}
