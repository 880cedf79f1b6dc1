"""Data access for the durable run event log (`run_events`).

A stream's text deltas are most of a run's events, a few bytes of text each. Consecutive
`message.delta` (or `reasoning.delta`) events written together are stored as one row: keyed by
the last of their ids, with `data` the JSON array of their texts instead of the event's
`{"text": …}` object. Every read expands such a row back into the events it holds, each with
exactly the JSON text it was published with, so callers see one event per id (I3). A row per
delta cost ~95 bytes of key, type and timestamp for ~5 bytes of text, and on PostgreSQL a heap
and an index entry, each logged, per token.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import run_events

Stored = tuple[int, str, str]  # (id, type, data JSON text)

_TEXT_TYPES = frozenset({"message.delta", "reasoning.delta"})


def _text_data(text: str) -> str:
    return orjson.dumps({"text": text}).decode()


def _text_of(type_: str, data: str) -> str | None:
    """The text of a delta event whose data expands back byte for byte, else None."""
    if type_ not in _TEXT_TYPES or not data.startswith('{"text":'):
        return None
    value = orjson.loads(data)
    text = value.get("text") if len(value) == 1 else None
    if not isinstance(text, str) or _text_data(text) != data:
        return None
    return text


def pack(events: Sequence[Stored]) -> list[Stored]:
    """The rows that store `events` (in id order): runs of same-type deltas become one row."""
    rows: list[Stored] = []
    kind: str | None = None
    texts: list[str] = []
    last = 0

    def close() -> None:
        if len(texts) == 1:
            rows.append((last, str(kind), _text_data(texts[0])))
        elif texts:
            rows.append((last, str(kind), orjson.dumps(texts).decode()))
        texts.clear()

    for event_id, type_, data in events:
        text = _text_of(type_, data)
        if text is not None and type_ == kind and event_id == last + 1:
            texts.append(text)
            last = event_id
            continue
        close()
        kind = None
        if text is None:
            rows.append((event_id, type_, data))
        else:
            kind, last = type_, event_id
            texts.append(text)
    close()
    return rows


def unpack(row_id: int, type_: str, data: str) -> list[Stored]:
    """The events one stored row holds, in id order."""
    if not data.startswith("["):
        return [(row_id, type_, data)]
    texts = orjson.loads(data)
    first = row_id - len(texts) + 1
    return [(first + i, type_, _text_data(text)) for i, text in enumerate(texts)]


async def append(
    conn: AsyncConnection,
    *,
    run_id: str,
    events: Sequence[Stored],
    now: datetime,
) -> None:
    """Write `(id, type, data_json)` events of one run (in id order) in one statement."""
    if not events:
        return
    await conn.execute(
        sa.insert(run_events),
        [
            {"run_id": run_id, "id": row_id, "type": type_, "data": data, "created_at": now}
            for row_id, type_, data in pack(events)
        ],
    )


async def after(
    conn: AsyncConnection, *, run_id: str, after_id: int, limit: int = 1000
) -> list[Stored]:
    """The run's events with id > `after_id`, in order, as `(id, type, data_json)`: at most
    `limit`, and exactly `limit` unless the log ends sooner."""
    # A row is keyed by its last event, so every row after `after_id` holds at least one.
    query = (
        sa.select(run_events.c.id, run_events.c.type, run_events.c.data)
        .where(run_events.c.run_id == run_id, run_events.c.id > after_id)
        .order_by(run_events.c.id)
        .limit(limit)
    )
    events: list[Stored] = []
    for row in (await conn.execute(query)).all():
        events += [e for e in unpack(row[0], row[1], row[2]) if e[0] > after_id]
        if len(events) >= limit:
            break
    return events[:limit]


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
) -> list[Stored]:
    """The run's events of `types` with id < `before_id`, newest first: at most `limit`, and
    exactly `limit` unless the log's start comes sooner."""
    columns = (run_events.c.id, run_events.c.type, run_events.c.data)
    mine = sa.and_(run_events.c.run_id == run_id, run_events.c.type.in_(types))
    query = sa.select(*columns).where(mine)
    events: list[Stored] = []
    if before_id is not None:
        query = query.where(run_events.c.id < before_id)
        # The row keyed at or after `before_id` may hold events before it too.
        straddling = (
            sa.select(*columns)
            .where(mine, run_events.c.id >= before_id)
            .order_by(run_events.c.id)
            .limit(1)
        )
        for row in (await conn.execute(straddling)).all():
            events += [e for e in reversed(unpack(row[0], row[1], row[2])) if e[0] < before_id]
    query = query.order_by(run_events.c.id.desc()).limit(limit)
    for row in (await conn.execute(query)).all():
        events += reversed(unpack(row[0], row[1], row[2]))
    return events[:limit]
