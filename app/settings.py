"""One typed Settings object, built once from the environment and passed down.

Nothing else in the service reads ``os.environ``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from app.errors import ConfigError

DEFAULT_SQLITE_PATH = "var/tracebin.sqlite3"
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "placeholder", "secret", "password", "dev", "test"})
# The secrets a production server refuses to start without.
SECRET_VARS = ("ADDON_PASSWORD", "SSO_SALT", "SESSION_SECRET")
DEV_SECRETS_FILE = "var/dev-secrets.json"


@dataclass(frozen=True)
class Settings:
    database_url: str
    public_url: str
    addon_password: str
    sso_salt: str
    session_secret: str
    port: int = 8000
    workers: int = 1
    development: bool = False
    smtp_url: str | None = None
    mail_from: str = "Tracebin <noreply@tracebin.dev>"
    support_email: str = "support@tracebin.dev"
    ingest_queue_size: int = 10_000
    key_cache_ttl: float = 5.0
    # Let alert webhooks reach loopback/private addresses (off in production: no requests to internal hosts).
    webhook_allow_private: bool = False
    generated_secrets: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def public_host(self) -> str:
        return urlsplit(self.public_url).netloc

    @property
    def public_scheme(self) -> str:
        return urlsplit(self.public_url).scheme

    @property
    def secure_cookies(self) -> bool:
        return self.public_scheme == "https"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def normalize_database_url(url: str, base_dir: Path | None = None) -> str:
    """Accept Heroku's ``postgres://`` and libpq's ``sslmode``; make SQLite paths absolute."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql+asyncpg://"):
        url = "postgresql://" + url[len("postgresql+asyncpg://") :]
    if url.startswith("postgresql://"):
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if "sslmode" in query:
            # databases forwards only `ssl`, `min_size` and `max_size` to asyncpg.
            query["ssl"] = query.pop("sslmode")
        return urlunsplit(parts._replace(query=urlencode(query)))
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path.startswith("/"):
            path = str(((base_dir or Path.cwd()) / path).resolve())
        return "sqlite:///" + path
    raise ConfigError(f"DATABASE_URL: unsupported scheme in {url.split(':', 1)[0]!r} (use sqlite or postgres)")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _number(env: Mapping[str, str], name: str, default: float, *, integer: bool = True, minimum: float = 1) -> float:
    """A positive number from the environment; anything else stops the start with the variable's name."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'}, not {raw[:40]!r}") from None
    if not value >= minimum:  # also refuses nan
        raise ConfigError(f"{name} must be at least {minimum:g}, not {raw[:40]!r}")
    return value


def _dev_secrets(path: Path) -> dict[str, str]:
    """Development secrets: generated once, kept in var/ so restarts keep sessions and keys."""
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        if all(stored.get(name) for name in SECRET_VARS):
            return stored
    generated = {name: secrets.token_urlsafe(24) for name in SECRET_VARS}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(generated, indent=2))
    path.chmod(0o600)
    return generated


def load_settings(env: Mapping[str, str] | None = None, *, base_dir: Path | None = None) -> Settings:
    env = os.environ if env is None else env
    base = base_dir or Path.cwd()
    development = _flag(env.get("TRACEBIN_DEV"))
    port = int(_number(env, "PORT", 8000))
    values = {name: env.get(name, "") for name in SECRET_VARS}
    generated: tuple[str, ...] = ()
    if development:
        missing = [name for name, value in values.items() if not value]
        if missing:
            dev = _dev_secrets(base / DEV_SECRETS_FILE)
            for name in missing:
                values[name] = dev[name]
            generated = tuple(missing)
    else:
        for name, value in values.items():
            if value.strip().lower() in PLACEHOLDERS or len(value) < 16:
                raise ConfigError(
                    f"{name} is missing or a placeholder; set a random value of at least 16 characters "
                    "(or TRACEBIN_DEV=1 for a development server)"
                )
    default_public = f"http://127.0.0.1:{port}" if development else ""
    public_url = (env.get("TRACEBIN_PUBLIC_URL") or default_public).rstrip("/")
    if not public_url:
        raise ConfigError("TRACEBIN_PUBLIC_URL is missing; set the https base URL of this service")
    parts = urlsplit(public_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError("TRACEBIN_PUBLIC_URL must be an absolute URL such as https://tracebin.example.com")
    if parts.scheme != "https" and not development:
        raise ConfigError("TRACEBIN_PUBLIC_URL must use https outside development")
    database_url = normalize_database_url(env.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}", base)
    return Settings(
        database_url=database_url,
        public_url=public_url,
        addon_password=values["ADDON_PASSWORD"],
        sso_salt=values["SSO_SALT"],
        session_secret=values["SESSION_SECRET"],
        port=port,
        workers=int(_number(env, "WEB_CONCURRENCY", 1)),
        development=development,
        smtp_url=env.get("SMTP_URL") or None,
        mail_from=env.get("MAIL_FROM") or Settings.mail_from,
        support_email=env.get("SUPPORT_EMAIL") or Settings.support_email,
        ingest_queue_size=int(_number(env, "TRACEBIN_INGEST_QUEUE", Settings.ingest_queue_size)),
        key_cache_ttl=_number(env, "TRACEBIN_KEY_CACHE_TTL", Settings.key_cache_ttl, integer=False, minimum=0),
        webhook_allow_private=development or _flag(env.get("TRACEBIN_WEBHOOK_ALLOW_PRIVATE")),
        generated_secrets=generated,
    )
