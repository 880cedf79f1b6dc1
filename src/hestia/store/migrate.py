"""Apply Alembic migrations from inside the app (at start-up and in `hestia doctor`).

Alembic is imported only when there is something to do: loading it (and its plugin entry
points) costs about half a second of every start-up, and a database at the head needs nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from .db import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_ASSIGNMENT = re.compile(
    r"^(down_revision|revision)\s*(?::[^=\n]+)?=\s*(?:\"(\w+)\"|'(\w+)'|(None))\s*$", re.M
)


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """The newest migration this version of Hestia knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def scripted_head() -> str | None:
    """The head read from the migration files without Alembic; None unless exactly one."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found: dict[str, str | None] = {}
        for match in _ASSIGNMENT.finditer(path.read_text(encoding="utf-8")):
            found[match.group(1)] = match.group(2) or match.group(3)
        if "revision" not in found or "down_revision" not in found or not found["revision"]:
            return None  # a layout this reader does not know (a merge, a tuple): ask Alembic
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def _stored_revisions(db: Database) -> set[str] | None:
    try:
        async with db.read() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return {row[0] for row in rows}
    except Exception:  # no table yet (a new database), or no database: Alembic will say
        return None


async def upgrade(db: Database) -> None:
    """Bring the schema to the newest migration; safe to run from several processes at once."""
    head = scripted_head()
    if head is not None and await _stored_revisions(db) == {head}:
        return

    def _upgrade(conn: Connection) -> None:
        from alembic import command

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
    from alembic.runtime.migration import MigrationContext

    async with db.read() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
