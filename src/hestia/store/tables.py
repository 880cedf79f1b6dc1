"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; this mirrors them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite stores text; a naive UTC value keeps it sortable and comparable.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = sa.MetaData()

RUN_ACTIVE = ("queued", "running")
RUN_TERMINAL = ("completed", "failed", "cancelled", "interrupted")

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    # default: never titled; auto: taken from the first message; user: renamed by the user.
    sa.Column("title_source", sa.String(8), nullable=False, server_default="default"),
    sa.Column("model", sa.Text, nullable=True),
    sa.Column("runtime", sa.String(16), nullable=False, server_default="builtin"),
    sa.Column("workspace", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("trashed_at", UTCDateTime, nullable=True),
    sa.Column("message_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_seq", sa.Integer, nullable=False, server_default="0"),
    # ask | dangerous | never; None follows the default in settings.
    sa.Column("approval_policy", sa.String(16), nullable=True),
    # Where an imported session came from (migration 0005): e.g. "hermes-webui" and its id there.
    sa.Column("source", sa.String(32), nullable=True),
    sa.Column("source_id", sa.String(200), nullable=True),
    sa.Index("ix_sessions_listing", "archived", "pinned", "updated_at", "id"),
    sa.Index("uq_sessions_source", "source", "source_id", unique=True),
)

messages = sa.Table(
    "messages",
    metadata,
    # An integer key gives SQLite's FTS5 index a rowid to point at.
    sa.Column("pk", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column(
        "session_id",
        sa.String(32),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("content", sa.Text, nullable=False, server_default=""),
    sa.Column("parts", sa.JSON, nullable=True),
    sa.Column("status", sa.String(16), nullable=False, server_default="complete"),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("superseded", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("session_id", "seq", name="uq_messages_session_seq"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "session_id",
        sa.String(32),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("status", sa.String(16), nullable=False),
    # send | edit | retry; with `input` it says what the run does when it starts.
    sa.Column("kind", sa.String(8), nullable=False, server_default="send"),
    sa.Column("input", sa.JSON, nullable=False),
    sa.Column("client_message_id", sa.String(200), nullable=True),
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("lease_expires_at", UTCDateTime, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("user_message_id", sa.String(32), nullable=True),
    sa.Column("assistant_message_id", sa.String(32), nullable=True),
    sa.Column("last_event_id", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Index(
        "uq_runs_one_running_per_session",
        "session_id",
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    ),
    sa.Index(
        "uq_runs_client_message_id",
        "session_id",
        "client_message_id",
        unique=True,
        sqlite_where=sa.text("client_message_id IS NOT NULL"),
        postgresql_where=sa.text("client_message_id IS NOT NULL"),
    ),
    sa.Index("ix_runs_session_status", "session_id", "status", "created_at"),
    sa.Index("ix_runs_status_lease", "status", "lease_expires_at"),
)

run_events = sa.Table(
    "run_events",
    metadata,
    sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(32), nullable=False),
    # The JSON text exactly as sent on the wire, so replay never re-encodes it.
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # SQLite: clustered on (run_id, id), so each event is stored once (migration 0007).
    sqlite_with_rowid=False,
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column(
        "session_id",
        sa.String(32),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("call_id", sa.String(200), nullable=False),
    sa.Column("tool", sa.String(64), nullable=False),
    sa.Column("arguments", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    # What an "always"/"session" decision remembers (see core.policy.approval_key).
    sa.Column("key", sa.Text, nullable=False),
    # pending | approved | denied | expired
    sa.Column("status", sa.String(16), nullable=False),
    # once | session | always | deny
    sa.Column("decision", sa.String(16), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Index("ix_approvals_run", "run_id"),
    sa.Index("ix_approvals_status", "status"),
)

# Remembered approvals: for one session (session_id set) or always (session_id NULL).
approval_grants = sa.Table(
    "approval_grants",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "session_id", sa.String(32), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=True
    ),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_approval_grants_key", "key", "session_id"),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Logins: the cookie holds a random token; only its SHA-256 is stored, so a copy of the
# database logs no one in. Deleting rows is logout (one) and a password change (all).
auth_sessions = sa.Table(
    "auth_sessions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_auth_sessions_expires", "expires_at"),
)

# API tokens for scripts (`Authorization: Bearer`), also stored as SHA-256 only.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("read_only", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
