"""The operator console: sign-in, throttling, CSRF, and that no customer session gets in."""

from __future__ import annotations

import re
import subprocess
import sys

from starlette.testclient import TestClient

from app.main import create_app
from app.services.operators import USER_LIMIT
from app.settings import Settings
from tests.conftest import PUBLIC_URL, Provisioned, provision
from tests.opskit import OPERATOR, OPERATOR_PASSWORD, console_login, console_post, create_operator, csrf_of, sso_login
from tests.support.server import settings_env


def test_admin_create_command_then_sign_in(settings: Settings) -> None:
    env = {**settings_env(settings), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "admin", "create", "--username", "Ops-Lead", "--password-stdin"],
        input="a long enough password\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    short = subprocess.run(
        [sys.executable, "-m", "app.cli", "admin", "create", "--username", "other", "--password-stdin"],
        input="short\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert short.returncode == 1 and "at least" in short.stderr
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
        assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"
        reply = console_login(client, "ops-lead", "a long enough password")
        assert reply.status_code == 303 and reply.headers["location"] == "/admin"
        page = client.get("/admin")
        assert page.status_code == 200 and "Resources" in page.text and "ops-lead" in page.text
        assert console_login(client, "other", "short").status_code == 401


def test_login_is_throttled_per_username_even_with_the_right_password(settings: Settings) -> None:
    create_operator(settings)
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
        for _ in range(USER_LIMIT):
            assert console_login(client, OPERATOR, "wrong password!!").status_code == 401
        refused = console_login(client, OPERATOR, OPERATOR_PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "operator_id" not in client.get("/admin", follow_redirects=False).headers.get("location", "")
        assert client.get("/admin", follow_redirects=False).status_code == 303
    # A second process (a fresh app on the same database) sees the same throttle.
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as other:
        assert console_login(other, OPERATOR, OPERATOR_PASSWORD).status_code == 429


def test_login_is_throttled_per_client_address(settings: Settings) -> None:
    create_operator(settings)
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
        # Guessing across many usernames from one address: the address gets blocked.
        for n in range(20):
            assert console_login(client, f"guess{n}", "wrong password!!").status_code == 401
        assert console_login(client, OPERATOR, OPERATOR_PASSWORD).status_code == 429


def test_sso_session_never_reaches_the_console(settings: Settings, resource: Provisioned) -> None:
    create_operator(settings)
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
        sso_login(client, resource.heroku_uuid, "dev@acme.test")
        assert client.get("/dashboard/alerts").status_code == 200  # a real customer session
        for path in ("/admin", "/admin/incidents", "/admin/support", f"/admin/resources/{resource.project_number}"):
            reply = client.get(path, follow_redirects=False)
            assert reply.status_code == 303 and reply.headers["location"] == "/admin/login", path
        token = csrf_of(client.get("/dashboard/alerts").text)
        reply = client.post(
            "/admin/incidents",
            data={"title": "x", "severity": "minor", "components": "api", "message": "x", "csrf_token": token},
            follow_redirects=False,
        )
        assert reply.status_code == 403
        # Signing in to the console drops the customer's keys: no dashboard with an operator session.
        assert console_login(client).status_code == 303
        assert client.get("/admin").status_code == 200
        assert client.get("/dashboard/alerts").status_code == 401


def test_console_forms_need_the_csrf_token(settings: Settings) -> None:
    create_operator(settings)
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
        assert console_login(client).status_code == 303
        form = {"title": "API errors", "severity": "major", "components": "api", "message": "Looking."}
        assert client.post("/admin/incidents", data=form, follow_redirects=False).status_code == 403
        assert (
            client.post("/admin/login", data={"username": OPERATOR, "password": OPERATOR_PASSWORD}).status_code == 403
        )
        made = console_post(client, "/admin/incidents", form)
        assert made.status_code == 303
        assert "API errors" in client.get(made.headers["location"]).text


def test_console_shows_resources_plans_usage_and_contacts(settings: Settings) -> None:
    create_operator(settings)
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
        added = provision(client, plan="basic")
        sso_login(client, added.heroku_uuid, "lead@acme.test")
        assert client.post("/exceptions", json={"message": "hello"}, headers=added.basic_auth()).status_code == 202
        console_login(client)
        overview = client.get("/admin").text
        row = re.search(rf"<tr><td><a href=\"/admin/resources/{added.project_number}\">.*?</tr>", overview, re.S)
        assert row, overview
        assert "acme-app" in row.group(0) and "basic" in row.group(0) and ">1</td>" in row.group(0)
        detail = client.get(f"/admin/resources/{added.project_number}").text
        assert "lead@acme.test" in detail and added.heroku_uuid in detail


def test_every_console_page_renders_with_the_support_footer(settings: Settings) -> None:
    create_operator(settings)
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
        added = provision(client)
        console_login(client)
        made = console_post(
            client, "/admin/incidents", {"title": "T", "severity": "minor", "components": "api", "message": "m"}
        )
        pages = [
            "/admin",
            "/admin/incidents",
            made.headers["location"],
            "/admin/maintenance",
            "/admin/notifications",
            "/admin/support?status=all",
            f"/admin/resources/{added.project_number}",
            "/admin/login",
            "/status",
        ]
        for path in pages:
            reply = client.get(path)
            assert reply.status_code == 200, path
            assert f'href="mailto:{settings.support_email}"' in reply.text, path
        assert client.get("/admin/resources/999999").status_code == 404
        assert client.get("/admin/incidents/999999").status_code == 404
