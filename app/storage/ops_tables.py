"""Operations tables: operators, incidents, maintenance, outbox, alerts, support (issue 6).

Defined on the same `metadata` as app.storage.tables so one migration history covers both.
Times are integer Unix seconds, like everywhere else.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text, UniqueConstraint

from app.storage.tables import BigId, metadata

operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_login_at", BigInteger, nullable=True),
    UniqueConstraint("username"),
)

# Failed console logins, one row each; counted per "user:<name>" and per "ip:<address>" key so the
# throttle holds across processes. Old rows are pruned on every login attempt.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(160), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index(None, "key", "at"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(200), nullable=False),
    # minor | major | critical
    Column("severity", String(16), nullable=False),
    # investigating | identified | monitoring | resolved
    Column("status", String(16), nullable=False),
    # comma-separated component names (api, ingestion, dashboard)
    Column("components", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    Column("postmortem", Text, nullable=True),
    Column("postmortem_at", BigInteger, nullable=True),
    Index(None, "created_at"),
)

incident_updates = Table(
    "incident_updates",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "incident_id", "created_at"),
)

maintenance = Table(
    "maintenance",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("components", String(200), nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("emergency", Boolean, nullable=False, server_default="0"),
    Column("reason", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    # Set once by whichever process sends the reminder (compare-and-set).
    Column("reminded_at", BigInteger, nullable=True),
    Column("cancelled_at", BigInteger, nullable=True),
    Index(None, "starts_at"),
)

# Every outgoing message (email or webhook) goes through here: retried with backoff by the sender.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),  # email | webhook
    Column("kind", String(32), nullable=False),
    Column("resource_id", Integer, nullable=True),
    Column("recipient", Text, nullable=False),  # an address, or the webhook URL
    Column("subject", String(300), nullable=False, server_default=""),
    Column("body", Text, nullable=False),
    Column("headers", Text, nullable=False, server_default="{}"),  # JSON object of extra headers
    Column("status", String(16), nullable=False, server_default="pending"),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("sent_at", BigInteger, nullable=True),
    Index(None, "status", "next_attempt_at"),
    Index(None, "resource_id", "created_at"),
)

# Opt-outs of non-critical notification kinds, per address.
optouts = Table(
    "optouts",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

alert_settings = Table(
    "alert_settings",
    metadata,
    Column("resource_id", Integer, primary_key=True),
    Column("email_enabled", Boolean, nullable=False, server_default="0"),
    Column("webhook_url", Text, nullable=False, server_default=""),
    # HMAC key for webhook bodies; shown to the customer once, when generated.
    Column("webhook_secret", String(128), nullable=False, server_default=""),
    Column("on_new", Boolean, nullable=False, server_default="1"),
    Column("on_regression", Boolean, nullable=False, server_default="1"),
    Column("on_spike", Boolean, nullable=False, server_default="1"),
    Column("spike_events", Integer, nullable=False, server_default="100"),
    Column("spike_minutes", Integer, nullable=False, server_default="10"),
    Column("updated_at", BigInteger, nullable=False),
)

# Throttle: the last alert of one kind for one issue (issue_id 0 with kind "hour:<n>" is the
# per-resource hourly budget, whose `sent` counts alerts of that hour).
alert_state = Table(
    "alert_state",
    metadata,
    Column("resource_id", Integer, nullable=False),
    Column("issue_id", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("last_sent_at", BigInteger, nullable=False, server_default="0"),
    Column("sent", Integer, nullable=False, server_default="0"),
    UniqueConstraint("resource_id", "issue_id", "kind"),
)

support_tickets = Table(
    "support_tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resource_id", Integer, nullable=False),
    Column("app_name", String(255), nullable=False, server_default=""),
    Column("email", String(320), nullable=False, server_default=""),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),  # open | solved
    Column("answer", Text, nullable=False, server_default=""),
    Column("operator_id", Integer, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("answered_at", BigInteger, nullable=True),
    Index(None, "status", "created_at"),
    Index(None, "resource_id"),
)

# Rows that belong to one resource and go when it is deprovisioned (the lead may add these to
# tables.RESOURCE_OWNED; support tickets are kept for the operators' records).
OPS_RESOURCE_OWNED = (alert_settings, alert_state)

__all__ = [
    "OPS_RESOURCE_OWNED",
    "alert_settings",
    "alert_state",
    "incident_updates",
    "incidents",
    "login_failures",
    "maintenance",
    "metadata",
    "operators",
    "optouts",
    "outbox",
    "support_tickets",
]
