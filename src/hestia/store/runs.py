"""Data access for `runs`. Every status change is a compare-and-set (I6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import run_events, runs

# A running run's flushes do not write its row (see `check_owner`), so its `last_event_id` is
# the newest stored event's; the column is written when the run ends.
_newest_event = (
    sa.select(sa.func.max(run_events.c.id))
    .where(run_events.c.run_id == runs.c.id)
    .scalar_subquery()
)
_COLUMNS = [
    *(c for c in runs.c if c.name != "last_event_id"),
    sa.case(
        (runs.c.status == "running", sa.func.coalesce(_newest_event, runs.c.last_event_id)),
        else_=runs.c.last_event_id,
    ).label("last_event_id"),
]


async def insert(conn: AsyncConnection, *, values: dict[str, Any]) -> None:
    """Insert one run row."""
    await conn.execute(sa.insert(runs).values(**values))


async def get(conn: AsyncConnection, *, run_id: str) -> RowMapping | None:
    """One run by id."""
    query = sa.select(*_COLUMNS).where(runs.c.id == run_id)
    return (await conn.execute(query)).mappings().first()


async def by_client_message_id(
    conn: AsyncConnection, *, session_id: str, client_message_id: str
) -> RowMapping | None:
    """The run a send with this `client_message_id` created, if any (I8)."""
    query = sa.select(*_COLUMNS).where(
        runs.c.session_id == session_id, runs.c.client_message_id == client_message_id
    )
    return (await conn.execute(query)).mappings().first()


async def for_session(
    conn: AsyncConnection, *, session_id: str, active_only: bool, limit: int = 100
) -> list[RowMapping]:
    """A session's runs, oldest first (only queued and running ones with `active_only`)."""
    query = sa.select(*_COLUMNS).where(runs.c.session_id == session_id)
    if active_only:
        query = query.where(runs.c.status.in_(("queued", "running")))
    query = query.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)
    rows = list((await conn.execute(query)).mappings().all())
    return list(reversed(rows))


async def has_active(conn: AsyncConnection, *, session_id: str) -> bool:
    """Whether the session has a queued or running run."""
    query = sa.select(sa.literal(1)).where(
        runs.c.session_id == session_id, runs.c.status.in_(("queued", "running"))
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def has_running(conn: AsyncConnection, *, session_id: str) -> bool:
    """Whether the session has a running run."""
    query = sa.select(sa.literal(1)).where(
        runs.c.session_id == session_id, runs.c.status == "running"
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def oldest_queued(conn: AsyncConnection, *, session_id: str) -> RowMapping | None:
    """The run that starts next in a session."""
    query = (
        sa.select(runs)
        .where(runs.c.session_id == session_id, runs.c.status == "queued")
        .order_by(runs.c.created_at, runs.c.id)
        .limit(1)
    )
    return (await conn.execute(query)).mappings().first()


async def sessions_with_queued(conn: AsyncConnection) -> list[str]:
    """Sessions that have a queued run and no running one."""
    running = sa.select(runs.c.session_id).where(runs.c.status == "running")
    query = (
        sa.select(runs.c.session_id)
        .where(runs.c.status == "queued", runs.c.session_id.not_in(running))
        .distinct()
    )
    return list((await conn.execute(query)).scalars().all())


async def transition(
    conn: AsyncConnection,
    *,
    run_id: str,
    from_status: str,
    values: dict[str, Any],
    owner: str | None = None,
) -> bool:
    """Compare-and-set: change the run only if it is still in `from_status` (and `owner`)."""
    query = sa.update(runs).where(runs.c.id == run_id, runs.c.status == from_status)
    if owner is not None:
        query = query.where(runs.c.owner == owner)
    result = await conn.execute(query.values(**values))
    return result.rowcount == 1


async def renew(
    conn: AsyncConnection, *, run_id: str, owner: str, values: dict[str, Any]
) -> bool | None:
    """Update a run its owner still runs; returns whether a cancel was asked, None if not ours."""
    result = await conn.execute(
        sa.update(runs)
        .where(runs.c.id == run_id, runs.c.status == "running", runs.c.owner == owner)
        .values(**values)
        .returning(runs.c.cancel_requested)
    )
    row = result.first()
    return None if row is None else bool(row[0])


async def check_owner(conn: AsyncConnection, *, run_id: str, owner: str) -> bool | None:
    """`renew` without writing the row: whether a cancel was asked, None if the run is not
    running under `owner` — and it stays so until this write transaction ends.

    On SQLite the write transaction (`BEGIN IMMEDIATE`) already excludes every other writer.
    On PostgreSQL the row is locked `FOR SHARE`, which a compare-and-set UPDATE of it (the
    sweep's) waits for, and which waits for one in flight and then sees its result (I6).
    """
    query = (
        sa.select(runs.c.cancel_requested)
        .where(runs.c.id == run_id, runs.c.status == "running", runs.c.owner == owner)
        .with_for_update(read=True)
    )
    row = (await conn.execute(query)).first()
    return None if row is None else bool(row[0])


async def running(conn: AsyncConnection) -> list[RowMapping]:
    """Every running run with its owner and lease, for the stale sweep."""
    query = sa.select(
        runs.c.id,
        runs.c.session_id,
        runs.c.owner,
        runs.c.lease_expires_at,
        runs.c.assistant_message_id,
        runs.c.last_event_id,
    ).where(runs.c.status == "running")
    return list((await conn.execute(query)).mappings().all())


async def renew_leases(conn: AsyncConnection, *, owner: str, until: datetime) -> list[str]:
    """Extend the lease of every run this owner runs; returns the ids asked to cancel."""
    await conn.execute(
        sa.update(runs)
        .where(runs.c.owner == owner, runs.c.status == "running")
        .values(lease_expires_at=until)
    )
    query = sa.select(runs.c.id).where(
        runs.c.owner == owner, runs.c.status == "running", runs.c.cancel_requested == sa.true()
    )
    return list((await conn.execute(query)).scalars().all())


async def status_counts(conn: AsyncConnection, *, session_id: str) -> dict[str, int]:
    """How many runs of the session ended (or stand) in each status."""
    query = (
        sa.select(runs.c.status, sa.func.count())
        .where(runs.c.session_id == session_id)
        .group_by(runs.c.status)
    )
    return {status: count for status, count in (await conn.execute(query)).all()}
