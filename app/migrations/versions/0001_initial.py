"""Initial schema: every table of app.storage.schema, as explicit operations.

Generated with Alembic's autogenerate against an empty database, then reviewed; tests/test_migrations.py
checks on SQLite and PostgreSQL that the migrated schema equals the SQLAlchemy tables.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_settings",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("email_enabled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("webhook_url", sa.Text(), server_default="", nullable=False),
        sa.Column("webhook_secret", sa.String(length=128), server_default="", nullable=False),
        sa.Column("on_new", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("on_regression", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("on_spike", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("spike_events", sa.Integer(), server_default="100", nullable=False),
        sa.Column("spike_minutes", sa.Integer(), server_default="10", nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_alert_settings")),
    )
    op.create_table(
        "alert_state",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("last_sent_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("sent", sa.Integer(), server_default="0", nullable=False),
        sa.UniqueConstraint("resource_id", "issue_id", "kind", name=op.f("uq_alert_state_resource_id_issue_id_kind")),
    )
    op.create_table(
        "contacts",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "email", name=op.f("pk_contacts")),
    )
    op.create_table(
        "drops_daily",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "day", "source", "reason", name=op.f("pk_drops_daily")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.Column("level", sa.String(length=16), server_default="error", nullable=False),
        sa.Column("environment", sa.String(length=64), server_default="", nullable=False),
        sa.Column("release", sa.String(length=128), server_default="", nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("resource_id", "event_id", name=op.f("uq_events_resource_id_event_id")),
    )
    op.create_index(op.f("ix_events_issue_id_id"), "events", ["issue_id", "id"], unique=False)
    op.create_index(op.f("ix_events_resource_id_received_at"), "events", ["resource_id", "received_at"], unique=False)
    op.create_table(
        "incident_updates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_updates")),
    )
    op.create_index(
        op.f("ix_incident_updates_incident_id_created_at"),
        "incident_updates",
        ["incident_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("components", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("postmortem", sa.Text(), nullable=True),
        sa.Column("postmortem_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_created_at"), "incidents", ["created_at"], unique=False)
    op.create_table(
        "issue_facets",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("issue_id", "name", "value", name=op.f("pk_issue_facets")),
    )
    op.create_index(
        op.f("ix_issue_facets_resource_id_name_value_issue_id"),
        "issue_facets",
        ["resource_id", "name", "value", "issue_id"],
        unique=False,
    )
    op.create_table(
        "issue_hourly",
        sa.Column("issue_id", sa.BigInteger(), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("issue_id", "hour", name=op.f("pk_issue_hourly")),
    )
    op.create_table(
        "issues",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("culprit", sa.String(length=512), server_default="", nullable=False),
        sa.Column("type", sa.String(length=255), server_default="", nullable=False),
        sa.Column("level", sa.String(length=16), server_default="error", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="unresolved", nullable=False),
        sa.Column("regressed", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("overage_hour", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issues")),
        sa.UniqueConstraint("resource_id", "fingerprint", name=op.f("uq_issues_resource_id_fingerprint")),
    )
    op.create_index(op.f("ix_issues_resource_id_count"), "issues", ["resource_id", "count"], unique=False)
    op.create_index(op.f("ix_issues_resource_id_first_seen"), "issues", ["resource_id", "first_seen"], unique=False)
    op.create_index(op.f("ix_issues_resource_id_last_seen"), "issues", ["resource_id", "last_seen"], unique=False)
    op.create_index(
        op.f("ix_issues_resource_id_status_last_seen"), "issues", ["resource_id", "status", "last_seen"], unique=False
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_key_at"), "login_failures", ["key", "at"], unique=False)
    op.create_table(
        "maintenance",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("components", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.BigInteger(), nullable=False),
        sa.Column("ends_at", sa.BigInteger(), nullable=False),
        sa.Column("emergency", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("reminded_at", sa.BigInteger(), nullable=True),
        sa.Column("cancelled_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance")),
    )
    op.create_index(op.f("ix_maintenance_starts_at"), "maintenance", ["starts_at"], unique=False)
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_login_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("username", name=op.f("uq_operators_username")),
    )
    op.create_table(
        "optouts",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("email", "kind", name=op.f("pk_optouts")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=300), server_default="", nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", sa.Text(), server_default="{}", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_resource_id_created_at"), "outbox", ["resource_id", "created_at"], unique=False)
    op.create_index(op.f("ix_outbox_status_next_attempt_at"), "outbox", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "project_hourly",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "hour", name=op.f("pk_project_hourly")),
    )
    op.create_table(
        "resources",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("heroku_uuid", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), server_default="", nullable=False),
        sa.Column("app_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("callback_url", sa.Text(), server_default="", nullable=False),
        sa.Column("options", sa.Text(), server_default="{}", nullable=False),
        sa.Column("key_salt", sa.String(length=64), nullable=True),
        sa.Column("key_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("deprovisioned_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resources")),
        sa.UniqueConstraint("heroku_uuid", name=op.f("uq_resources_heroku_uuid")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_resources_key_hash")),
    )
    op.create_table(
        "sso_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sso_tokens")),
    )
    op.create_table(
        "support_tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("app_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("email", sa.String(length=320), server_default="", nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("answer", sa.Text(), server_default="", nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("answered_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_tickets")),
    )
    op.create_index(op.f("ix_support_tickets_resource_id"), "support_tickets", ["resource_id"], unique=False)
    op.create_index(
        op.f("ix_support_tickets_status_created_at"), "support_tickets", ["status", "created_at"], unique=False
    )
    op.create_table(
        "usage_monthly",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("events", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("warned_80", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("warned_100", sa.Boolean(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "month", name=op.f("pk_usage_monthly")),
    )


def downgrade() -> None:
    op.drop_table("usage_monthly")
    op.drop_index(op.f("ix_support_tickets_status_created_at"), table_name="support_tickets")
    op.drop_index(op.f("ix_support_tickets_resource_id"), table_name="support_tickets")
    op.drop_table("support_tickets")
    op.drop_table("sso_tokens")
    op.drop_table("resources")
    op.drop_table("project_hourly")
    op.drop_index(op.f("ix_outbox_status_next_attempt_at"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_resource_id_created_at"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("optouts")
    op.drop_table("operators")
    op.drop_index(op.f("ix_maintenance_starts_at"), table_name="maintenance")
    op.drop_table("maintenance")
    op.drop_index(op.f("ix_login_failures_key_at"), table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_issues_resource_id_status_last_seen"), table_name="issues")
    op.drop_index(op.f("ix_issues_resource_id_last_seen"), table_name="issues")
    op.drop_index(op.f("ix_issues_resource_id_first_seen"), table_name="issues")
    op.drop_index(op.f("ix_issues_resource_id_count"), table_name="issues")
    op.drop_table("issues")
    op.drop_table("issue_hourly")
    op.drop_index(op.f("ix_issue_facets_resource_id_name_value_issue_id"), table_name="issue_facets")
    op.drop_table("issue_facets")
    op.drop_index(op.f("ix_incidents_created_at"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_incident_updates_incident_id_created_at"), table_name="incident_updates")
    op.drop_table("incident_updates")
    op.drop_index(op.f("ix_events_resource_id_received_at"), table_name="events")
    op.drop_index(op.f("ix_events_issue_id_id"), table_name="events")
    op.drop_table("events")
    op.drop_table("drops_daily")
    op.drop_table("contacts")
    op.drop_table("alert_state")
    op.drop_table("alert_settings")
