"""Apply Alembic migrations from inside the app (at start-up and in `hestia doctor`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from .db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """The newest migration this version of Hestia knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(db: Database) -> None:
    """Bring the schema to the newest migration; safe to run from several processes at once."""

    def _upgrade(conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            # Serialise concurrent start-ups; released when the transaction ends.
            conn.execute(text("SELECT pg_advisory_xact_lock(7275390)"))
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")

    async with db.write() as conn:
        await conn.run_sync(_upgrade)


async def current_revision(db: Database) -> str | None:
    """The migration the database is at, or None for an empty database."""
    async with db.read() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
