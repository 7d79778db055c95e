"""Heroku SSO at POST /sso/login (PROTOCOL.md section 2), over real HTTP handling and databases."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner
from starlette.testclient import TestClient

from app import sso_demo
from app.main import SESSION_COOKIE, create_app
from app.services import sso
from tests.conftest import PUBLIC_URL, SESSION_SECRET, Provisioned, make_settings, partner_auth, provision
from tests.support import db as dbsupport
from tests.support.dashboard import SALT, sso_form

BOOMERANG = "https://s3.amazonaws.com/assets.heroku.com/boomerang/boomerang.js"


def post(client: TestClient, form: dict[str, str], **headers: str) -> object:
    return client.post("/sso/login", data=form, follow_redirects=False, headers=headers)


def session_of(client: TestClient) -> dict[str, object]:
    """Decode the signed session cookie the browser now holds."""
    raw = client.cookies.get(SESSION_COOKIE)
    assert raw
    data = TimestampSigner(SESSION_SECRET).unsign(raw.encode())
    decoded: dict[str, object] = json.loads(base64.b64decode(data))
    return decoded


@pytest.mark.parametrize(
    "forms",
    [
        ("token",),
        ("resource_token",),
        ("user_scoped_resource_token",),
        ("token", "resource_token", "user_scoped_resource_token"),
    ],
)
def test_each_token_form_signs_in_and_lands_on_the_dashboard(
    client: TestClient, resource: Provisioned, forms: tuple[str, ...]
) -> None:
    form = sso_form(resource.heroku_uuid, forms=forms)
    reply = client.post("/sso/login", data=form, follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/dashboard"
    cookies = reply.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    assert "httponly" in session.lower() and "samesite=lax" in session.lower() and "secure" in session.lower()
    assert f"heroku-nav-data={form['nav-data']}; Path=/" in "\n".join(cookies)
    assert session_of(client)["via"] == "heroku"
    assert session_of(client)["app"] == "acme-app"
    page = client.get("/dashboard", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'<script src="{BOOMERANG}"></script>' in page.text
    assert 'data-app="acme-app"' in page.text
    # Nothing that makes no sense for a Heroku user.
    for hidden in ("Log out", "Change password", "Billing"):
        assert hidden not in page.text


def test_wrong_token_is_403_without_a_session(client: TestClient, resource: Provisioned) -> None:
    form = sso_form(resource.heroku_uuid, forms=("token",))
    form["token"] = "0" * 40
    reply = post(client, form)
    assert reply.status_code == 403
    assert "location" not in reply.headers
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/dashboard", headers={"Accept": "application/json"}).status_code == 401


def test_token_of_another_salt_is_refused(client: TestClient, resource: Provisioned) -> None:
    assert post(client, sso_form(resource.heroku_uuid, salt="another-salt-0123456789")).status_code == 403


def test_user_scoped_token_binds_the_email(client: TestClient, resource: Provisioned) -> None:
    form = sso_form(resource.heroku_uuid, forms=("user_scoped_resource_token",))
    form["email"] = "intruder@example.com"
    assert post(client, form).status_code == 403


def test_stale_timestamp_is_refused_and_a_recent_one_accepted(client: TestClient, resource: Provisioned) -> None:
    now = int(time.time())
    assert post(client, sso_form(resource.heroku_uuid, timestamp=now - 301)).status_code == 403
    assert post(client, sso_form(resource.heroku_uuid, timestamp=now - 280)).status_code == 303


def test_future_timestamp_beyond_the_skew_is_refused(client: TestClient, resource: Provisioned) -> None:
    now = int(time.time())
    assert post(client, sso_form(resource.heroku_uuid, timestamp=now + 600)).status_code == 403
    assert post(client, sso_form(resource.heroku_uuid, timestamp=now + 20)).status_code == 303


def test_missing_or_malformed_timestamp_is_refused(client: TestClient, resource: Provisioned) -> None:
    form = sso_form(resource.heroku_uuid)
    form["timestamp"] = "yesterday"
    assert post(client, form).status_code == 403
    del form["timestamp"]
    assert post(client, form).status_code == 403


def test_replay_inside_the_window_is_refused(client: TestClient, resource: Provisioned) -> None:
    form = sso_form(resource.heroku_uuid)
    assert post(client, form).status_code == 303
    assert post(client, form).status_code == 403
    # Nor can one token of the burnt post be replayed alone.
    only_legacy = {k: v for k, v in form.items() if k not in {"resource_token", "user_scoped_resource_token"}}
    assert post(client, only_legacy).status_code == 403


def test_deep_link_opens_the_issue(client: TestClient, resource: Provisioned) -> None:
    reply = post(client, sso_form(resource.heroku_uuid, issue="42"))
    assert reply.status_code == 303
    assert reply.headers["location"] == "/dashboard/issues/42"
    # Anything else is ignored, never an open redirect.
    form = sso_form(
        resource.heroku_uuid, timestamp=int(time.time()) - 100, issue="//evil.example", next="https://x.example"
    )
    reply = post(client, form)
    assert reply.headers["location"] == "/dashboard"


def test_unknown_or_deprovisioned_resource_is_refused(client: TestClient, resource: Provisioned) -> None:
    assert post(client, sso_form("no-such-uuid")).status_code == 403
    assert client.delete(f"/heroku/resources/{resource.heroku_uuid}", headers=partner_auth()).status_code == 204
    assert post(client, sso_form(resource.heroku_uuid)).status_code == 403


def test_failure_page_is_html_for_browsers(client: TestClient, resource: Provisioned) -> None:
    form = sso_form(resource.heroku_uuid, timestamp=int(time.time()) - 1000)
    reply = post(client, form, accept="text/html")
    assert reply.status_code == 403
    assert "Sign-in refused" in reply.text
    assert "content-security-policy" in reply.headers


def test_sso_replaces_an_operator_session(client: TestClient, resource: Provisioned) -> None:
    forged = base64.b64encode(json.dumps({"operator_id": 7, "csrf": "old"}).encode())
    client.cookies.set(SESSION_COOKIE, TimestampSigner(SESSION_SECRET).sign(forged).decode(), domain="tracebin.test")
    assert session_of(client)["operator_id"] == 7
    assert post(client, sso_form(resource.heroku_uuid)).status_code == 303
    session = session_of(client)
    assert "operator_id" not in session
    assert session["resource_id"] == resource.project_number


def test_sso_email_is_kept_as_a_contact_only(client: TestClient, resource: Provisioned) -> None:
    assert post(client, sso_form(resource.heroku_uuid, email="ops@example.com")).status_code == 303
    db = client.app.state.ctx.db  # type: ignore[attr-defined]

    async def contacts() -> list[tuple[int, str]]:
        async with db.connection() as conn:
            rows = await conn.fetch_all("SELECT resource_id, email FROM contacts")
        return [(int(r[0]), str(r[1])) for r in rows]

    assert client.portal.call(contacts) == [(resource.project_number, "ops@example.com")]  # type: ignore[union-attr]


def test_bad_posts_are_refused_before_any_database_access(tmp_path: Path, sqlite_template: Path) -> None:
    """With the tables gone, a bad token still gets its 403 (no query ran); a good one fails later."""
    url = dbsupport.sqlite_copy(sqlite_template, tmp_path / "t.sqlite3")
    with TestClient(create_app(make_settings(url)), base_url=PUBLIC_URL) as client:
        resource = provision(client)
        with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
            raw.execute("DROP TABLE sso_tokens")
            raw.execute("DROP TABLE resources")
        bad = sso_form(resource.heroku_uuid)
        bad["token"] = bad["resource_token"] = bad["user_scoped_resource_token"] = "f" * 40
        assert post(client, bad).status_code == 403
        assert post(client, sso_form(resource.heroku_uuid, timestamp=int(time.time()) - 900)).status_code == 403
        with pytest.raises(sqlite3.OperationalError):
            post(client, sso_form(resource.heroku_uuid))


def test_verify_accepts_whichever_token_validates_and_burns_all_valid_ones() -> None:
    form = sso_form("uuid-1", salt=SALT)
    form["token"] = "bad"
    claims = sso.verify(form, salt=SALT, now=int(form["timestamp"]))
    assert len(claims.tokens) == 2  # resource_token and user_scoped_resource_token validated
    assert claims.heroku_uuid == "uuid-1"


def test_sso_demo_page_posts_a_valid_heroku_form(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'unused.sqlite3'}")
    fields = sso_demo.sso_fields(settings, "uuid-9", app="demo-app", email="a@example.com", issue=5)
    claims = sso.verify(fields, salt=settings.sso_salt, now=int(fields["timestamp"]))
    assert claims.heroku_uuid == "uuid-9" and claims.deep_link_issue == 5
    page = sso_demo.form_page("https://tracebin.test/sso/login", fields)
    assert 'action="https://tracebin.test/sso/login"' in page and f'value="{fields["token"]}"' in page
