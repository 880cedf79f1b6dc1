"""A streaming message's text so far, rebuilt from its run's stored `message.delta` events.

While a message streams, its row holds no text: each flush stores only events, and the text
is written to the row once, when the message closes (`RunExecution`). The stored deltas are
the durable copy (I2). A run's events delimit its messages: a step's message is closed by
`message.completed {message}` before the next step's message opens, so the deltas of the
message still streaming are those after the run's last `message.completed`.

The reads that show a streaming message (a session's page, an export) and the sweep that
interrupts a dead owner's run use `content_of`; its cost is one backward index range over
that message's own events, and nothing when no message in the page streams.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from ..store import events as event_store

_TYPES = ("message.delta", "message.completed")
PAGE = 500


async def content_of(conn: AsyncConnection, *, run_id: str, seq: int) -> str:
    """The text of the run's message at `seq` as its stored events have it.

    For the message still streaming: its deltas so far. For one that closed since the row was
    read (PostgreSQL reads are not one snapshot): the text its `message.completed` carries.
    """
    texts: list[str] = []
    before: int | None = None
    while True:
        rows = await event_store.newest_first(
            conn, run_id=run_id, types=_TYPES, before_id=before, limit=PAGE
        )
        for _, type_, data in rows:
            if type_ == "message.delta":
                texts.append(orjson.loads(data)["text"])
                continue
            message = orjson.loads(data)["message"]
            if message["seq"] < seq:
                # The message before ours: what came after it is ours.
                return "".join(reversed(texts))
            if message["seq"] == seq:
                return str(message["content"])
            texts.clear()  # a later message's deltas: ours closed further back
        if len(rows) < PAGE:
            return "".join(reversed(texts))
        before = rows[-1][0]


async def fill_streaming(
    conn: AsyncConnection, rows: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """`rows` (messages), with the text of any streaming one taken from its run's events."""
    filled: list[Mapping[str, Any]] = []
    for row in rows:
        if row["status"] == "streaming" and row["run_id"] is not None:
            content = await content_of(conn, run_id=row["run_id"], seq=row["seq"])
            row = {**row, "content": content}
        filled.append(row)
    return filled
