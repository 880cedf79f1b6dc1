"""Data access for `messages`: rows are appended and superseded, never rewritten whole."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import messages

PUBLIC_COLUMNS = (
    messages.c.id,
    messages.c.seq,
    messages.c.role,
    messages.c.content,
    messages.c.status,
    messages.c.run_id,
    messages.c.superseded,
    messages.c.created_at,
    messages.c.parts,
)


async def insert(conn: AsyncConnection, *, values: dict[str, Any]) -> None:
    """Append one message row."""
    await conn.execute(sa.insert(messages).values(**values))


async def insert_many(conn: AsyncConnection, *, rows: list[dict[str, Any]]) -> None:
    """Append many message rows in one statement; the same keys in each."""
    if rows:
        await conn.execute(sa.insert(messages), rows)


async def get(conn: AsyncConnection, *, message_id: str) -> RowMapping | None:
    """One message by id."""
    result = await conn.execute(sa.select(*PUBLIC_COLUMNS).where(messages.c.id == message_id))
    return result.mappings().first()


async def get_by_seq(conn: AsyncConnection, *, session_id: str, seq: int) -> RowMapping | None:
    """One message by its place in the session."""
    result = await conn.execute(
        sa.select(*PUBLIC_COLUMNS).where(messages.c.session_id == session_id, messages.c.seq == seq)
    )
    return result.mappings().first()


async def page(
    conn: AsyncConnection,
    *,
    session_id: str,
    limit: int,
    before_seq: int | None,
    include_superseded: bool,
) -> tuple[list[RowMapping], bool]:
    """The newest `limit` messages before `before_seq`, oldest first, and whether more exist."""
    query = sa.select(*PUBLIC_COLUMNS).where(messages.c.session_id == session_id)
    if before_seq is not None:
        query = query.where(messages.c.seq < before_seq)
    if not include_superseded:
        query = query.where(messages.c.superseded == sa.false())
    query = query.order_by(messages.c.seq.desc()).limit(limit + 1)
    rows = list((await conn.execute(query)).mappings().all())
    has_more = len(rows) > limit
    return list(reversed(rows[:limit])), has_more


async def history(conn: AsyncConnection, *, session_id: str, before_seq: int) -> list[RowMapping]:
    """The live (not superseded) transcript before `before_seq`, oldest first."""
    query = (
        sa.select(messages.c.role, messages.c.content, messages.c.parts, messages.c.status)
        .where(
            messages.c.session_id == session_id,
            messages.c.seq < before_seq,
            messages.c.superseded == sa.false(),
        )
        .order_by(messages.c.seq)
    )
    return list((await conn.execute(query)).mappings().all())


async def finish(
    conn: AsyncConnection,
    *,
    message_id: str,
    content: str,
    status: str,
    parts: list[dict[str, Any]] | None = None,
) -> int:
    """Write a streaming message's whole text and leave `streaming` for a final status.

    A message's text is written once, here: while it streams, its text is in the run's
    `message.delta` events (see `core/streamed.py`).
    """
    values: dict[str, Any] = {"content": content, "status": status}
    if parts:
        values["parts"] = parts
    result = await conn.execute(
        sa.update(messages)
        .where(messages.c.id == message_id, messages.c.status == "streaming")
        .values(**values)
    )
    return result.rowcount


async def streaming_of_run(
    conn: AsyncConnection, *, session_id: str, run_id: str
) -> RowMapping | None:
    """The run's message that is still streaming, if any (at most one: a step's message
    closes before the next one opens); the run's messages are the newest of its session."""
    query = sa.select(*PUBLIC_COLUMNS).where(
        messages.c.session_id == session_id,
        messages.c.run_id == run_id,
        messages.c.status == "streaming",
    )
    result = await conn.execute(query.order_by(messages.c.seq.desc()).limit(1))
    return result.mappings().first()


async def supersede_from(conn: AsyncConnection, *, session_id: str, seq: int) -> int:
    """Hide (keep) every live message at or after `seq`; returns how many."""
    result = await conn.execute(
        sa.update(messages)
        .where(
            messages.c.session_id == session_id,
            messages.c.seq >= seq,
            messages.c.superseded == sa.false(),
        )
        .values(superseded=True)
    )
    return result.rowcount


async def first_live(conn: AsyncConnection, *, session_id: str, role: str) -> RowMapping | None:
    """The oldest live message of the session with `role`."""
    query = sa.select(*PUBLIC_COLUMNS).where(
        messages.c.session_id == session_id,
        messages.c.superseded == sa.false(),
        messages.c.role == role,
    )
    result = await conn.execute(query.order_by(messages.c.seq).limit(1))
    return result.mappings().first()


async def last_live(
    conn: AsyncConnection, *, session_id: str, role: str | None = None
) -> RowMapping | None:
    """The newest live message of the session (of `role`, if given)."""
    query = sa.select(*PUBLIC_COLUMNS).where(
        messages.c.session_id == session_id, messages.c.superseded == sa.false()
    )
    if role is not None:
        query = query.where(messages.c.role == role)
    result = await conn.execute(query.order_by(messages.c.seq.desc()).limit(1))
    return result.mappings().first()


async def page_after(
    conn: AsyncConnection,
    *,
    session_id: str,
    after_seq: int,
    up_to_seq: int,
    limit: int,
    include_superseded: bool,
) -> list[RowMapping]:
    """Up to `limit` messages with `after_seq < seq <= up_to_seq`, oldest first (keyset paging)."""
    query = sa.select(*PUBLIC_COLUMNS).where(
        messages.c.session_id == session_id,
        messages.c.seq > after_seq,
        messages.c.seq <= up_to_seq,
    )
    if not include_superseded:
        query = query.where(messages.c.superseded == sa.false())
    query = query.order_by(messages.c.seq).limit(limit)
    return list((await conn.execute(query)).mappings().all())
