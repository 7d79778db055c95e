"""Shared fixtures: real SQLite and PostgreSQL databases, the app with its lifespan, provisioning."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.storage import migrate
from tests.support import db as dbsupport

ADDON_PASSWORD = "test-addon-password-0123456789"
SSO_SALT = "test-sso-salt-0123456789abcdef"
SESSION_SECRET = "test-session-secret-0123456789abcdef"
PUBLIC_URL = "https://tracebin.test"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the run (skipped outside CI when none is reachable)."""
    dbsupport.skip_or_fail_without_postgres()
    name = f"tracebin_test_{os.getpid()}"
    url = dbsupport.create_postgres_database(name)
    yield url
    dbsupport.drop_postgres_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated database: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return dbsupport.sqlite_copy(sqlite_template, tmp_path / "tracebin.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    dbsupport.truncate_postgres(url)
    return url


def make_settings(database_url: str, **overrides: object) -> Settings:
    settings = Settings(
        database_url=database_url,
        public_url=PUBLIC_URL,
        addon_password=ADDON_PASSWORD,
        sso_salt=SSO_SALT,
        session_secret=SESSION_SECRET,
    )
    return settings.with_overrides(**overrides) if overrides else settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as test_client:
        yield test_client


def partner_auth(password: str = ADDON_PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"tracebin:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass(frozen=True)
class Provisioned:
    heroku_uuid: str
    tracebin_url: str

    @property
    def key(self) -> str:
        return urlsplit(self.tracebin_url).username or ""

    @property
    def project_number(self) -> int:
        return int(urlsplit(self.tracebin_url).path.strip("/"))

    def basic_auth(self) -> dict[str, str]:
        """What any HTTP client sends for https://<key>@host/...: Basic auth with the key as user."""
        return {"Authorization": "Basic " + base64.b64encode(f"{self.key}:".encode()).decode()}


def provision(client: TestClient, plan: str = "hobby", heroku_uuid: str | None = None) -> Provisioned:
    heroku_uuid = heroku_uuid or str(uuid.uuid4())
    reply = client.post(
        "/heroku/resources",
        json={"uuid": heroku_uuid, "plan": plan, "region": "amazon-web-services::us-east-1", "name": "acme-app"},
        headers=partner_auth(),
    )
    assert reply.status_code == 200, reply.text
    return Provisioned(heroku_uuid=heroku_uuid, tracebin_url=reply.json()["config"]["TRACEBIN_URL"])


@pytest.fixture
def resource(client: TestClient) -> Provisioned:
    """A resource provisioned through the partner API on the `hobby` plan."""
    return provision(client)
