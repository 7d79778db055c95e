"""Fixtures of the client library's tests.

The autouse fixture fails a test when the library swallowed an internal error: the library never
raises into its host, so without this its bugs would go unnoticed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the server's test support (tests.conftest, tests.support)
    sys.path.insert(0, str(ROOT))

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.storage import migrate  # noqa: E402
from client_support import Sink, start_sink, tracebin_url  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from tests.support import db as dbsupport  # noqa: E402
from tests.support.server import live_server  # noqa: E402

import tracebin  # noqa: E402
from tests.conftest import PUBLIC_URL, Provisioned, make_settings, provision  # noqa: E402
from tracebin import _guard, _scope  # noqa: E402


@pytest.fixture(autouse=True)
def no_swallowed_errors() -> Iterator[list[BaseException]]:
    errors: list[BaseException] = []
    _guard.error_hooks.append(errors.append)
    try:
        yield errors
        tracebin.close(timeout=2)
    finally:
        _scope.reset_root(100)  # what a test set on the process-wide scope stays in that test
        _guard.error_hooks.remove(errors.append)
    assert not errors, f"the library swallowed internal errors: {errors!r}"


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = start_sink()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def spool_dir(tmp_path: Path) -> str:
    return str(tmp_path / "spool")


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("client-template") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def server_settings(tmp_path: Path, template_database: Path) -> Settings:
    """A fresh migrated SQLite database (the server's storage is tested on both databases elsewhere)."""
    return make_settings(dbsupport.sqlite_copy(template_database, tmp_path / "tracebin.sqlite3"))


@pytest.fixture
def provisioned(server_settings: Settings) -> Provisioned:
    with TestClient(create_app(server_settings), base_url=PUBLIC_URL) as http:
        return provision(http)


@pytest.fixture
def tracebin_server(server_settings: Settings, provisioned: Provisioned) -> Iterator[str]:
    """A real Tracebin server (uvicorn in a thread); yields the resource's TRACEBIN_URL pointed at it."""
    with live_server(server_settings) as base_url:
        yield tracebin_url(base_url, provisioned)
