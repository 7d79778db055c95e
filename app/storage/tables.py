"""SQLAlchemy Core tables of the consume path, the dashboard and provisioning.

Times are integer Unix seconds (UTC) so raw driver SQL is identical on SQLite and PostgreSQL;
`hour` columns are `unix_seconds // 3600`, `day` columns `// 86400`, `month` columns `YYYYMM`.
Operations tables (incidents, outbox, alerts, ...) live in `app.storage.ops_tables`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# A 64-bit id that is still SQLite's rowid alias (so it autoincrements there).
BigId = BigInteger().with_variant(Integer(), "sqlite")

resources = Table(
    "resources",
    metadata,
    # `id` is also the project number in TRACEBIN_URL (https://<key>@host/<id>).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("heroku_uuid", String(64), nullable=False),
    Column("plan", String(32), nullable=False),
    Column("region", String(64), nullable=False, server_default=""),
    Column("app_name", String(255), nullable=False, server_default=""),
    Column("callback_url", Text, nullable=False, server_default=""),
    Column("options", Text, nullable=False, server_default="{}"),
    # The key is derived from this random salt and the server secret; only its sha256 is stored.
    Column("key_salt", String(64), nullable=True),
    Column("key_hash", String(64), nullable=True),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deprovisioned_at", BigInteger, nullable=True),
    UniqueConstraint("heroku_uuid"),
    UniqueConstraint("key_hash"),
)

issues = Table(
    "issues",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("resource_id", Integer, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("title", String(512), nullable=False),
    Column("culprit", String(512), nullable=False, server_default=""),
    Column("type", String(255), nullable=False, server_default=""),
    Column("level", String(16), nullable=False, server_default="error"),
    Column("status", String(16), nullable=False, server_default="unresolved"),
    Column("regressed", Boolean, nullable=False, server_default="0"),
    Column("count", BigInteger, nullable=False, server_default="0"),
    Column("first_seen", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    # The last hour in which an over-quota event of this issue was kept (the hourly trickle).
    Column("overage_hour", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("resource_id", "fingerprint"),
    Index(None, "resource_id", "last_seen"),
    Index(None, "resource_id", "first_seen"),
    Index(None, "resource_id", "count"),
    Index(None, "resource_id", "status", "last_seen"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("resource_id", Integer, nullable=False),
    Column("issue_id", BigInteger, nullable=False),
    Column("event_id", String(32), nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("level", String(16), nullable=False, server_default="error"),
    Column("environment", String(64), nullable=False, server_default=""),
    Column("release", String(128), nullable=False, server_default=""),
    # The normalised, scrubbed event as JSON (the format of docs in app/openapi).
    Column("payload", Text, nullable=False),
    UniqueConstraint("resource_id", "event_id"),
    Index(None, "issue_id", "id"),
    Index(None, "resource_id", "received_at"),
)

# Which environments and releases an issue was seen in (filters on the issue list).
issue_facets = Table(
    "issue_facets",
    metadata,
    Column("resource_id", Integer, nullable=False),
    Column("issue_id", BigInteger, nullable=False),
    Column("name", String(32), nullable=False),
    Column("value", String(128), nullable=False),
    PrimaryKeyConstraint("issue_id", "name", "value"),
    Index(None, "resource_id", "name", "value", "issue_id"),
)

issue_hourly = Table(
    "issue_hourly",
    metadata,
    Column("issue_id", BigInteger, nullable=False),
    Column("hour", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("issue_id", "hour"),
)

project_hourly = Table(
    "project_hourly",
    metadata,
    Column("resource_id", Integer, nullable=False),
    Column("hour", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("resource_id", "hour"),
)

usage_monthly = Table(
    "usage_monthly",
    metadata,
    Column("resource_id", Integer, nullable=False),
    Column("month", Integer, nullable=False),
    Column("events", BigInteger, nullable=False, server_default="0"),
    # Quota warnings already sent this month (80 % and 100 %).
    Column("warned_80", Boolean, nullable=False, server_default="0"),
    Column("warned_100", Boolean, nullable=False, server_default="0"),
    PrimaryKeyConstraint("resource_id", "month"),
)

# Events not stored, by day and reason: source 'server' (quota, ...) or 'client' (reported drops).
drops_daily = Table(
    "drops_daily",
    metadata,
    Column("resource_id", Integer, nullable=False),
    Column("day", Integer, nullable=False),
    Column("source", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("count", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("resource_id", "day", "source", "reason"),
)

# SSO tokens already used (replay protection inside the 300 s window).
sso_tokens = Table(
    "sso_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)

# Addresses seen in SSO logins: notification contacts only, never logins.
contacts = Table(
    "contacts",
    metadata,
    Column("resource_id", Integer, nullable=False),
    Column("email", String(320), nullable=False),
    Column("first_seen", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    PrimaryKeyConstraint("resource_id", "email"),
)

# Tables whose rows belong to one resource and go when it is deprovisioned.
RESOURCE_OWNED = (events, issues, issue_facets, project_hourly, usage_monthly, drops_daily, contacts)
