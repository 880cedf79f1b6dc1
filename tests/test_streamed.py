"""Rebuilding a streaming message's text from its run's stored events (core/streamed.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from hestia.core import streamed
from hestia.core.events import Event
from hestia.ids import new_id
from hestia.store import events as event_store
from hestia.store import messages as message_store
from hestia.store import runs as run_store
from hestia.store import sessions as session_store
from hestia.store.db import Database
from tests.conftest import both_backends

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Run:
    """A run written the way the engine writes it: events, and messages at their seqs."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.session_id = new_id()
        self.run_id = new_id()
        self.events: list[Event] = []

    async def create(self) -> Run:
        async with self.db.write() as conn:
            await session_store.insert(
                conn,
                values={"id": self.session_id, "title": "t", "created_at": T0, "updated_at": T0},
            )
            await run_store.insert(
                conn,
                values={
                    "id": self.run_id,
                    "session_id": self.session_id,
                    "status": "running",
                    "input": {},
                    "created_at": T0,
                },
            )
        return self

    async def message(self, status: str = "streaming", content: str = "") -> dict:
        row = {
            "id": new_id(),
            "session_id": self.session_id,
            "role": "assistant",
            "content": content,
            "status": status,
            "run_id": self.run_id,
            "created_at": T0,
        }
        async with self.db.write() as conn:
            row["seq"] = await session_store.allocate_seqs(
                conn, session_id=self.session_id, count=1, now=T0
            )
            await message_store.insert(conn, values=row)
        return row

    async def emit(self, type_: str, data: dict) -> None:
        event = Event.make(len(self.events) + 1, type_, data)
        self.events.append(event)
        async with self.db.write() as conn:
            await event_store.append(
                conn, run_id=self.run_id, events=[(event.id, event.type, event.data)], now=T0
            )

    async def deltas(self, *texts: str) -> None:
        for text in texts:
            await self.emit("message.delta", {"text": text})

    async def complete(self, message: dict, content: str) -> None:
        await self.emit("message.completed", {"message": {**message, "content": content}})

    async def content_of(self, message: dict) -> str:
        async with self.db.read() as conn:
            return await streamed.content_of(conn, run_id=self.run_id, seq=message["seq"])


@both_backends
async def test_the_first_messages_text_is_every_delta_so_far(db):
    run = await Run(db).create()
    first = await run.message()
    assert await run.content_of(first) == ""
    await run.emit("run.started", {"run_id": run.run_id})
    await run.deltas("Hel", "lo", " world")
    await run.emit("reasoning.delta", {"text": "not shown"})
    await run.deltas("!")
    assert await run.content_of(first) == "Hello world!"


@both_backends
async def test_a_later_steps_text_starts_after_the_previous_messages_end(db):
    run = await Run(db).create()
    first = await run.message()
    await run.deltas("Let me ", "look.")
    await run.complete(first, "Let me look.")
    await run.emit("tool.started", {"call_id": "c1", "name": "list_files", "arguments": {}})
    await run.emit("tool.finished", {"call_id": "c1", "output": "a.txt", "is_error": False})
    second = await run.message()
    assert await run.content_of(second) == ""
    await run.deltas("There ", "is a.txt")
    assert await run.content_of(second) == "There is a.txt"
    # A reader that saw the first message still streaming gets its final text.
    assert await run.content_of(first) == "Let me look."


@both_backends
async def test_a_message_that_closed_after_it_was_read_gets_its_final_text(db):
    run = await Run(db).create()
    first = await run.message()
    await run.deltas("one")
    await run.complete(first, "one")
    second = await run.message()
    await run.deltas("two")
    await run.complete(second, "two")
    third = await run.message()
    await run.deltas("thr", "ee")
    assert [await run.content_of(m) for m in (first, second, third)] == ["one", "two", "three"]


@both_backends
async def test_a_long_message_is_read_across_pages(db):
    run = await Run(db).create()
    first = await run.message()
    await run.deltas("a")
    await run.complete(first, "a")
    second = await run.message()
    texts = [f"w{i} " for i in range(streamed.PAGE * 2 + 7)]
    async with db.write() as conn:
        await event_store.append(
            conn,
            run_id=run.run_id,
            events=[
                (len(run.events) + 1 + i, "message.delta", Event.make(0, "t", {"text": t}).data)
                for i, t in enumerate(texts)
            ],
            now=T0,
        )
    assert await run.content_of(second) == "".join(texts)


@both_backends
async def test_fill_streaming_replaces_only_streaming_messages(db):
    run = await Run(db).create()
    done = await run.message(status="complete", content="kept as stored")
    live = await run.message()
    await run.deltas("so ", "far")
    async with db.read() as conn:
        rows, _ = await message_store.page(
            conn, session_id=run.session_id, limit=10, before_seq=None, include_superseded=False
        )
        filled = await streamed.fill_streaming(conn, rows)
    assert [(m["id"], m["content"]) for m in filled] == [
        (done["id"], "kept as stored"),
        (live["id"], "so far"),
    ]
