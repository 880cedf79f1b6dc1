"""SQLite: keep the run event log in its primary key's order (WITHOUT ROWID).

A rowid table with a (run_id, id) primary key stores every event twice, in the table and in
the key's index, and a stream's flush wrote pages of both. Clustered on the key, a flush
writes about half the pages and a replay reads the events in one range. PostgreSQL is left as
it is.

Revision ID: 0007
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hestia.store.tables import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "run_id, id, type, data, created_at"


def _rebuild(with_rowid: bool) -> None:
    op.create_table(
        "run_events_rebuilt",
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sqlite_with_rowid=with_rowid,
    )
    op.execute(f"INSERT INTO run_events_rebuilt ({COLUMNS}) SELECT {COLUMNS} FROM run_events")
    op.drop_table("run_events")
    op.rename_table("run_events_rebuilt", "run_events")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(with_rowid=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(with_rowid=True)
