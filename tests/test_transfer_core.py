"""Imports and exports in the core, on SQLite and PostgreSQL: all or nothing, once, paged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from hestia.core import export as export_module
from hestia.core.export import Exporter
from hestia.core.importers import ImportedMessage, ImportedSession, save
from hestia.core.importers.document import parse_document
from hestia.store.db import Database
from hestia.store.tables import messages, sessions
from tests.conftest import both_backends

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def conversation(n: int, *, source_id: str = "s1", seqs: list[int] | None = None):
    items = [
        ImportedMessage(
            role="user" if i % 2 == 0 else "assistant",
            content=f"message {i} \x00 with a NUL",
            created_at=T0 + timedelta(seconds=i),
            seq=None if seqs is None else seqs[i],
        )
        for i in range(n)
    ]
    return ImportedSession(
        source="test",
        source_id=source_id,
        title=None,
        created_at=T0,
        updated_at=T0 + timedelta(seconds=n),
        messages=items,
        pinned=True,
    )


async def count(db: Database, table: sa.Table) -> int:
    async with db.read() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()


@both_backends
async def test_save_once_then_finds_it(db):
    row, created = await save(db, conversation(3))
    assert created and row["message_count"] == 3 and row["last_seq"] == 3
    assert row["title"] == "message 0 \ufffd with a NUL" and row["title_source"] == "auto"
    assert row["pinned"] is True and row["source"] == "test" and row["source_id"] == "s1"
    again, created_again = await save(db, conversation(5))
    assert not created_again and again["id"] == row["id"] and again["message_count"] == 3
    assert await count(db, sessions) == 1 and await count(db, messages) == 3


@both_backends
async def test_concurrent_imports_of_one_source_make_one_session(db):
    results = await asyncio.gather(*(save(db, conversation(50)) for _ in range(4)))
    assert sum(created for _, created in results) == 1
    assert len({row["id"] for row, _ in results}) == 1
    assert await count(db, sessions) == 1 and await count(db, messages) == 50


@both_backends
async def test_a_session_that_cannot_be_stored_leaves_nothing(db):
    broken = conversation(3, seqs=[1, 2, 2])  # a duplicate seq breaks the unique index
    with pytest.raises(IntegrityError):
        await save(db, broken)
    assert await count(db, sessions) == 0 and await count(db, messages) == 0


@both_backends
async def test_export_pages_through_messages_and_imports_back(db, monkeypatch):
    monkeypatch.setattr(export_module, "PAGE", 7)
    row, _ = await save(db, conversation(40))
    exporter = Exporter(db)
    session = await exporter.session(row["id"], "json")
    chunks = [chunk async for chunk in exporter.json_chunks(session)]
    assert len(chunks) == 40 + 2  # the head, one piece per message, the end
    document = orjson.loads(b"".join(chunks))
    assert [m["seq"] for m in document["messages"]] == list(range(1, 41))
    assert document["session"]["source"] == "test"

    copy, created = await save(db, parse_document(document))
    assert created and copy["id"] != row["id"] and copy["source"] == "hestia"
    assert copy["source_id"] == row["id"] and copy["message_count"] == 40
    assert copy["created_at"] == row["created_at"] and copy["updated_at"] == row["updated_at"]
    markdown = "".join([c async for c in exporter.markdown_chunks(copy)])
    assert markdown.count("\n## ") == 40 and "message 39 \ufffd with a NUL" in markdown


@both_backends
async def test_export_stops_at_the_last_seq_it_started_with(db):
    row, _ = await save(db, conversation(3))
    exporter = Exporter(db)
    session = await exporter.session(row["id"], "json")
    async with db.write() as conn:
        await conn.execute(
            sa.insert(messages).values(
                id="late",
                session_id=row["id"],
                seq=4,
                role="user",
                content="late",
                created_at=T0,
            )
        )
    document = orjson.loads(b"".join([c async for c in exporter.json_chunks(session)]))
    assert [m["seq"] for m in document["messages"]] == [1, 2, 3]
