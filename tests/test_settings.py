"""Settings come from the environment once; unsafe production settings stop the server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.settings import load_settings, normalize_database_url

GOOD = {
    "ADDON_PASSWORD": "a" * 24,
    "SSO_SALT": "b" * 24,
    "SESSION_SECRET": "c" * 32,
    "TRACEBIN_PUBLIC_URL": "https://tracebin.example.com",
}


def test_production_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {**GOOD, "DATABASE_URL": "postgres://u:p@db.example.com:5432/d", "PORT": "5001"}, base_dir=tmp_path
    )
    assert settings.database_url == "postgresql://u:p@db.example.com:5432/d"
    assert settings.port == 5001
    assert not settings.development
    assert settings.secure_cookies
    assert settings.public_host == "tracebin.example.com"


@pytest.mark.parametrize("name", ["ADDON_PASSWORD", "SSO_SALT", "SESSION_SECRET"])
@pytest.mark.parametrize("value", [None, "", "changeme", "short"])
def test_missing_or_placeholder_secrets_are_refused_by_name(tmp_path: Path, name: str, value: str | None) -> None:
    env = {**GOOD}
    if value is None:
        del env[name]
    else:
        env[name] = value
    with pytest.raises(ConfigError, match=name):
        load_settings(env, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "0"),
        ("WEB_CONCURRENCY", "2.5"),
        ("TRACEBIN_INGEST_QUEUE", "-1"),
        ("TRACEBIN_KEY_CACHE_TTL", "soon"),
        ("TRACEBIN_KEY_CACHE_TTL", "nan"),
    ],
)
def test_bad_numbers_are_refused_by_name(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({**GOOD, name: value}, base_dir=tmp_path)


def test_numbers_are_read(tmp_path: Path) -> None:
    settings = load_settings(
        {**GOOD, "WEB_CONCURRENCY": "3", "TRACEBIN_INGEST_QUEUE": "500", "TRACEBIN_KEY_CACHE_TTL": "0.5"},
        base_dir=tmp_path,
    )
    assert (settings.workers, settings.ingest_queue_size, settings.key_cache_ttl) == (3, 500, 0.5)


def test_public_url_must_be_https_outside_development(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TRACEBIN_PUBLIC_URL"):
        load_settings({**GOOD, "TRACEBIN_PUBLIC_URL": "http://tracebin.example.com"}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="TRACEBIN_PUBLIC_URL"):
        load_settings({k: v for k, v in GOOD.items() if k != "TRACEBIN_PUBLIC_URL"}, base_dir=tmp_path)


def test_development_generates_secrets_once_and_keeps_them(tmp_path: Path) -> None:
    first = load_settings({"TRACEBIN_DEV": "1"}, base_dir=tmp_path)
    second = load_settings({"TRACEBIN_DEV": "1"}, base_dir=tmp_path)
    assert set(first.generated_secrets) == {"ADDON_PASSWORD", "SSO_SALT", "SESSION_SECRET"}
    assert first.addon_password == second.addon_password
    assert len(first.session_secret) >= 24
    stored = json.loads((tmp_path / "var" / "dev-secrets.json").read_text())
    assert stored["SSO_SALT"] == first.sso_salt
    assert (tmp_path / "var" / "dev-secrets.json").stat().st_mode & 0o077 == 0
    assert first.public_url == "http://127.0.0.1:8000"
    assert first.database_url == f"sqlite:///{tmp_path}/var/tracebin.sqlite3"


def test_database_url_forms(tmp_path: Path) -> None:
    assert normalize_database_url("postgres://h/d?sslmode=require") == "postgresql://h/d?ssl=require"
    assert normalize_database_url("sqlite:///rel/x.db", tmp_path) == f"sqlite:///{tmp_path}/rel/x.db"
    assert normalize_database_url("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        normalize_database_url("mysql://h/d")


def test_server_refuses_to_start_with_a_placeholder_secret(tmp_path: Path) -> None:
    env = {**GOOD, "SSO_SALT": "changeme", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "SSO_SALT" in proc.stderr
