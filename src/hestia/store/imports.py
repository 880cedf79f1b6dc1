"""Data access for imports: find a session by where it came from, insert a whole one at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import messages, sessions

# Rows per INSERT statement: keeps each statement's parameters well under driver limits.
CHUNK = 500


async def find_by_source(
    conn: AsyncConnection, *, source: str, source_id: str
) -> RowMapping | None:
    """The session imported from (`source`, `source_id`), or None."""
    query = sa.select(sessions).where(
        sessions.c.source == source, sessions.c.source_id == source_id
    )
    return (await conn.execute(query)).mappings().first()


async def insert_session_with_messages(
    conn: AsyncConnection, *, session: dict[str, Any], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert one session row and all its message rows (in the caller's transaction).

    `session` must already carry `last_seq` and `message_count` that match `rows`.
    """
    await conn.execute(sa.insert(sessions).values(**session))
    for start in range(0, len(rows), CHUNK):
        await conn.execute(sa.insert(messages), list(rows[start : start + CHUNK]))
