"""Imports: where a session came from, so importing it again finds it instead of copying it.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        # NULL for sessions made in Hestia; e.g. "hermes-webui" + its session id for imports.
        batch.add_column(sa.Column("source", sa.String(32), nullable=True))
        batch.add_column(sa.Column("source_id", sa.String(200), nullable=True))
    # NULLs are distinct in a unique index on SQLite and PostgreSQL alike.
    op.create_index("uq_sessions_source", "sessions", ["source", "source_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_sessions_source", table_name="sessions")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("source_id")
        batch.drop_column("source")
