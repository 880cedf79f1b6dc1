"""Data access for `sessions`: keyword-only functions over an open connection."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import messages, runs, sessions

_WORD = re.compile(r"\w+", re.UNICODE)

# The id of the session's running (or else oldest queued) run, computed in the listing query.
_active_run = (
    sa.select(runs.c.id)
    .where(runs.c.session_id == sessions.c.id, runs.c.status.in_(("running", "queued")))
    .order_by(sa.case((runs.c.status == "running", 0), else_=1), runs.c.created_at)
    .limit(1)
    .correlate(sessions)
    .scalar_subquery()
    .label("active_run_id")
)


async def insert(conn: AsyncConnection, *, values: dict[str, Any]) -> None:
    """Insert one session row."""
    await conn.execute(sa.insert(sessions).values(**values))


async def insert_many(conn: AsyncConnection, *, rows: list[dict[str, Any]]) -> None:
    """Insert many session rows in one statement (imports and seeding); same keys in each."""
    if rows:
        await conn.execute(sa.insert(sessions), rows)


async def get(
    conn: AsyncConnection, *, session_id: str, for_update: bool = False
) -> RowMapping | None:
    """One session with its `active_run_id`, or None; `for_update` locks it (PostgreSQL)."""
    if for_update:
        query = sa.select(sessions).where(sessions.c.id == session_id).with_for_update()
    else:
        query = sa.select(sessions, _active_run).where(sessions.c.id == session_id)
    return (await conn.execute(query)).mappings().first()


async def update(conn: AsyncConnection, *, session_id: str, values: dict[str, Any]) -> int:
    """Set columns of one session; returns the number of rows changed."""
    result = await conn.execute(
        sa.update(sessions).where(sessions.c.id == session_id).values(**values)
    )
    return result.rowcount


async def allocate_seqs(
    conn: AsyncConnection,
    *,
    session_id: str,
    count: int,
    now: datetime,
    values: dict[str, Any] | None = None,
) -> int:
    """Reserve `count` message seqs for a session (setting `values` too); returns the first.
    Atomic in one UPDATE."""
    result = await conn.execute(
        sa.update(sessions)
        .where(sessions.c.id == session_id)
        .values(
            {
                "updated_at": now,
                **(values or {}),
                "last_seq": sessions.c.last_seq + count,
                "message_count": sessions.c.message_count + count,
            }
        )
        .returning(sessions.c.last_seq)
    )
    last = result.scalar_one()
    return last - count + 1


async def add_to_count(conn: AsyncConnection, *, session_id: str, delta: int) -> None:
    """Adjust the number of live messages (superseding hides some)."""
    await conn.execute(
        sa.update(sessions)
        .where(sessions.c.id == session_id)
        .values(message_count=sessions.c.message_count + delta)
    )


async def delete(conn: AsyncConnection, *, session_id: str) -> int:
    """Remove a session and everything in it (messages, runs, events cascade)."""
    result = await conn.execute(sa.delete(sessions).where(sessions.c.id == session_id))
    return result.rowcount


def _match_messages(dialect: str, q: str) -> sa.ColumnElement[bool] | None:
    """A condition on `sessions.id`: some finished message of the session matches every word."""
    words = _WORD.findall(q)
    if not words:
        return None
    if dialect == "sqlite":
        # Quoted terms keep FTS5 syntax out of user input; the last word matches as a prefix.
        fts_query = " ".join(f'"{w}"' for w in words) + "*"
        matching = sa.text(
            "SELECT m.session_id FROM messages_fts JOIN messages m ON m.pk = messages_fts.rowid "
            "WHERE messages_fts MATCH :fts_query"
        ).bindparams(fts_query=fts_query)
        return sessions.c.id.in_(matching.columns(sa.column("session_id")))
    ts_query = " & ".join(f"{w.lower()}" for w in words) + ":*"
    matching_pg = (
        sa.select(messages.c.session_id)
        .where(
            messages.c.status != "streaming",
            sa.func.to_tsvector(sa.literal_column("'simple'"), messages.c.content).op("@@")(
                sa.func.to_tsquery(sa.literal_column("'simple'"), ts_query)
            ),
        )
        .distinct()
    )
    return sessions.c.id.in_(matching_pg)


async def list_page(
    conn: AsyncConnection,
    *,
    dialect: str,
    limit: int,
    archived: bool,
    trashed: bool,
    q: str | None,
    after: tuple[bool, datetime, str] | None,
) -> list[RowMapping]:
    """Up to `limit` sessions, pinned first then newest `updated_at`, after a keyset cursor."""
    query = sa.select(sessions, _active_run)
    if trashed:
        query = query.where(sessions.c.trashed_at.is_not(None))
    else:
        query = query.where(sessions.c.trashed_at.is_(None), sessions.c.archived == archived)
    if q:
        title_match = sa.func.lower(sessions.c.title).contains(q.lower(), autoescape=True)
        message_match = _match_messages(dialect, q)
        query = query.where(
            title_match if message_match is None else sa.or_(title_match, message_match)
        )
    if after is not None:
        pinned, updated_at, session_id = after
        newer_key = sa.or_(
            sessions.c.updated_at < updated_at,
            sa.and_(sessions.c.updated_at == updated_at, sessions.c.id < session_id),
        )
        if pinned:
            query = query.where(sa.or_(sessions.c.pinned == sa.false(), newer_key))
        else:
            query = query.where(sessions.c.pinned == sa.false(), newer_key)
    query = query.order_by(
        sessions.c.pinned.desc(), sessions.c.updated_at.desc(), sessions.c.id.desc()
    ).limit(limit)
    result = await conn.execute(query)
    return list(result.mappings().all())
