"""Data access for the durable run event log (`run_events`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import run_events


async def append(
    conn: AsyncConnection,
    *,
    run_id: str,
    events: Sequence[tuple[int, str, str]],
    now: datetime,
) -> None:
    """Write `(id, type, data_json)` events of one run in one statement."""
    if not events:
        return
    await conn.execute(
        sa.insert(run_events),
        [
            {"run_id": run_id, "id": event_id, "type": type_, "data": data, "created_at": now}
            for event_id, type_, data in events
        ],
    )


async def after(
    conn: AsyncConnection, *, run_id: str, after_id: int, limit: int = 1000
) -> list[tuple[int, str, str]]:
    """The run's events with id > `after_id`, in order, as `(id, type, data_json)`."""
    query = (
        sa.select(run_events.c.id, run_events.c.type, run_events.c.data)
        .where(run_events.c.run_id == run_id, run_events.c.id > after_id)
        .order_by(run_events.c.id)
        .limit(limit)
    )
    return [(row[0], row[1], row[2]) for row in (await conn.execute(query)).all()]


async def last_id(conn: AsyncConnection, *, run_id: str) -> int:
    """The id of the run's newest stored event, 0 if none."""
    query = sa.select(sa.func.coalesce(sa.func.max(run_events.c.id), 0)).where(
        run_events.c.run_id == run_id
    )
    return int((await conn.execute(query)).scalar_one())


async def newest_first(
    conn: AsyncConnection,
    *,
    run_id: str,
    types: Sequence[str],
    before_id: int | None = None,
    limit: int = 500,
) -> list[tuple[int, str, str]]:
    """Up to `limit` of the run's events of `types` with id < `before_id`, newest first."""
    query = sa.select(run_events.c.id, run_events.c.type, run_events.c.data).where(
        run_events.c.run_id == run_id, run_events.c.type.in_(types)
    )
    if before_id is not None:
        query = query.where(run_events.c.id < before_id)
    query = query.order_by(run_events.c.id.desc()).limit(limit)
    return [(row[0], row[1], row[2]) for row in (await conn.execute(query)).all()]
