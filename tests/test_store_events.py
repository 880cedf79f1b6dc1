"""The run event log's storage: deltas packed into rows, and every read sees one event per id."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st

from hestia.ids import new_id
from hestia.store import events as event_store
from hestia.store import runs as run_store
from hestia.store import sessions as session_store
from hestia.store.db import Database
from tests.conftest import both_backends

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def delta(text: str, type_: str = "message.delta") -> tuple[str, str]:
    return type_, orjson.dumps({"text": text}).decode()


# Kinds of event data, including deltas that must not be packed because they would not expand
# back to the same bytes.
EVENT = st.one_of(
    st.builds(delta, st.text(max_size=6)),
    st.builds(delta, st.text(max_size=6), st.just("reasoning.delta")),
    st.just(("tool.started", '{"call_id":"c","name":"shell","arguments":{}}')),
    st.just(("message.delta", '{"text": "spaced"}')),
    st.just(("message.delta", '{"text":"a","extra":1}')),
    st.just(("message.delta", '{"text":"\\u0041"}')),
    st.just(("run.started", '{"run_id":"r"}')),
)


def numbered(kinds: list[tuple[str, str]], first: int = 1) -> list[tuple[int, str, str]]:
    return [(first + i, type_, data) for i, (type_, data) in enumerate(kinds)]


@given(st.lists(EVENT, max_size=40), st.integers(min_value=1, max_value=50))
def test_packed_rows_unpack_to_the_same_events(kinds, first):
    events = numbered(kinds, first)
    rows = event_store.pack(events)
    assert [e for row in rows for e in event_store.unpack(*row)] == events
    assert [row[0] for row in rows] == sorted({row[0] for row in rows})  # keys increase
    assert len(rows) <= len(events)


def test_a_flush_of_deltas_is_one_row():
    events = numbered(
        [("run.started", "{}"), *(delta(f"w{i} ") for i in range(50)), ("tool.started", "{}")]
    )
    rows = event_store.pack(events)
    assert [(row[0], row[1]) for row in rows] == [
        (1, "run.started"),
        (51, "message.delta"),
        (52, "tool.started"),
    ]
    assert orjson.loads(rows[1][2]) == [f"w{i} " for i in range(50)]


async def stored_run(db: Database, flushes: list[list[tuple[str, str]]]) -> tuple[str, list]:
    """A run whose events were written in these flushes; (run id, every event in order)."""
    session_id, run_id = new_id(), new_id()
    async with db.write() as conn:
        await session_store.insert(
            conn, values={"id": session_id, "title": "t", "created_at": T0, "updated_at": T0}
        )
        await run_store.insert(
            conn,
            values={
                "id": run_id,
                "session_id": session_id,
                "status": "running",
                "input": {},
                "created_at": T0,
            },
        )
    everything: list[tuple[int, str, str]] = []
    for kinds in flushes:
        events = numbered(kinds, len(everything) + 1)
        async with db.write() as conn:
            await event_store.append(conn, run_id=run_id, events=events, now=T0)
        everything += events
    return run_id, everything


FLUSHES = [
    [("run.started", "{}"), *(delta(f"a{i} ") for i in range(7))],
    [delta("b0 "), delta("think", "reasoning.delta"), delta("b1 "), delta("b2 ")],
    [("tool.started", "{}")],
    [delta(f"c{i} ") for i in range(5)],
    [("message.completed", '{"message":{}}'), ("run.completed", "{}")],
]


@both_backends
async def test_every_read_of_the_log_sees_one_event_per_id(db):
    run_id, events = await stored_run(db, FLUSHES)
    async with db.read() as conn:
        assert await event_store.last_id(conn, run_id=run_id) == len(events)
        for after in range(len(events) + 1):
            for limit in (1, 2, 3, 1000):
                got = await event_store.after(conn, run_id=run_id, after_id=after, limit=limit)
                assert got == events[after : after + limit], (after, limit)
        types = ("message.delta", "message.completed")
        for before in (None, *range(1, len(events) + 2)):
            expected = [
                e for e in reversed(events) if e[1] in types and (before is None or e[0] < before)
            ]
            for limit in (1, 3, 500):
                got = await event_store.newest_first(
                    conn, run_id=run_id, types=types, before_id=before, limit=limit
                )
                assert got == expected[:limit], (before, limit)
