"""The store layer on SQLite and PostgreSQL alike: schema, ordering, paging, search, CAS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from hestia.core.sessions import decode_cursor, encode_cursor
from hestia.ids import new_id
from hestia.store import messages as message_store
from hestia.store import migrate
from hestia.store import runs as run_store
from hestia.store import sessions as session_store
from tests.conftest import both_backends

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def add_session(db, *, title="t", minutes=0, pinned=False, archived=False, trashed=False):
    session_id = new_id()
    when = T0 + timedelta(minutes=minutes)
    async with db.write() as conn:
        await session_store.insert(
            conn,
            values={
                "id": session_id,
                "title": title,
                "created_at": when,
                "updated_at": when,
                "pinned": pinned,
                "archived": archived,
                "trashed_at": when if trashed else None,
            },
        )
    return session_id


async def add_message(db, session_id, content, *, role="user", status="complete"):
    async with db.write() as conn:
        seq = await session_store.allocate_seqs(conn, session_id=session_id, count=1, now=T0)
        await message_store.insert(
            conn,
            values={
                "id": new_id(),
                "session_id": session_id,
                "seq": seq,
                "role": role,
                "content": content,
                "status": status,
                "created_at": T0,
            },
        )
    return seq


async def listing(db, **kwargs):
    params = {"limit": 100, "archived": False, "trashed": False, "q": None, "after": None}
    params.update(kwargs)
    async with db.read() as conn:
        rows = await session_store.list_page(conn, dialect=db.dialect, **params)
    return [r["id"] for r in rows]


@both_backends
async def test_migrations_are_idempotent_and_at_head(db):
    await migrate.upgrade(db)
    assert await migrate.current_revision(db) == migrate.head_revision()


@both_backends
async def test_listing_puts_pinned_first_then_newest(db):
    old = await add_session(db, minutes=1)
    new = await add_session(db, minutes=2)
    pinned_old = await add_session(db, minutes=0, pinned=True)
    await add_session(db, minutes=3, archived=True)
    trashed = await add_session(db, minutes=4, trashed=True)
    assert await listing(db) == [pinned_old, new, old]
    assert await listing(db, trashed=True) == [trashed]
    assert len(await listing(db, archived=True)) == 1


@both_backends
async def test_keyset_pages_cover_everything_once(db):
    ids = set()
    for i in range(9):
        ids.add(await add_session(db, minutes=i % 3, pinned=i % 4 == 0))  # ties on updated_at
    expected = await listing(db)
    seen: list[str] = []
    after = None
    while True:
        async with db.read() as conn:
            rows = await session_store.list_page(
                conn,
                dialect=db.dialect,
                limit=2,
                archived=False,
                trashed=False,
                q=None,
                after=after,
            )
        if not rows:
            break
        seen += [r["id"] for r in rows]
        after = decode_cursor(encode_cursor(rows[-1]))
    assert seen == expected and set(seen) == ids


@both_backends
async def test_search_matches_titles_and_finished_message_words(db):
    by_title = await add_session(db, title="Quarterly Budget", minutes=1)
    by_message = await add_session(db, title="chat", minutes=2)
    await add_message(db, by_message, "Let us talk about the zeppelin schedule")
    streaming = await add_session(db, title="other", minutes=3)
    await add_message(
        db, streaming, "zeppelin still streaming", role="assistant", status="streaming"
    )
    assert await listing(db, q="budget") == [by_title]
    assert await listing(db, q="zeppelin") == [by_message]
    assert await listing(db, q="zeppel") == [by_message]  # the last word matches as a prefix
    assert await listing(db, q="talk zeppelin") == [by_message]
    assert await listing(db, q="talk nothing") == []
    assert await listing(db, q='zeppelin" (*') == [by_message]  # no query syntax leaks


@both_backends
async def test_a_message_becomes_searchable_when_it_finishes(db):
    session = await add_session(db)
    await add_message(db, session, "hello aurora", role="assistant", status="streaming")
    assert await listing(db, q="aurora") == []
    async with db.read() as conn:
        row = await message_store.last_live(conn, session_id=session)
    async with db.write() as conn:
        done = await message_store.finish(
            conn, message_id=row["id"], content="hello aurora borealis!", status="complete"
        )
        assert done == 1
    assert await listing(db, q="borealis") == [session]
    async with db.write() as conn:  # only a streaming message is finished, once
        assert not await message_store.finish(
            conn, message_id=row["id"], content="", status="interrupted"
        )
    async with db.read() as conn:
        assert (await message_store.get(conn, message_id=row["id"]))["content"] == (
            "hello aurora borealis!"
        )


@both_backends
async def test_message_pages_newest_first_returned_oldest_first(db):
    session = await add_session(db)
    for i in range(7):
        await add_message(db, session, f"m{i}")
    async with db.read() as conn:
        page, more = await message_store.page(
            conn, session_id=session, limit=3, before_seq=None, include_superseded=False
        )
        assert [m["seq"] for m in page] == [5, 6, 7] and more
        page, more = await message_store.page(
            conn, session_id=session, limit=3, before_seq=5, include_superseded=False
        )
        assert [m["seq"] for m in page] == [2, 3, 4] and more
        page, more = await message_store.page(
            conn, session_id=session, limit=3, before_seq=2, include_superseded=False
        )
        assert [m["seq"] for m in page] == [1] and not more


@both_backends
async def test_supersede_hides_but_keeps(db):
    session = await add_session(db)
    for i in range(4):
        await add_message(db, session, f"m{i}")
    async with db.write() as conn:
        assert await message_store.supersede_from(conn, session_id=session, seq=3) == 2
    async with db.read() as conn:
        live, _ = await message_store.page(
            conn, session_id=session, limit=10, before_seq=None, include_superseded=False
        )
        everything, _ = await message_store.page(
            conn, session_id=session, limit=10, before_seq=None, include_superseded=True
        )
    assert [m["seq"] for m in live] == [1, 2]
    assert [m["superseded"] for m in everything] == [False, False, True, True]


@both_backends
async def test_one_running_run_per_session_is_enforced_by_the_schema(db):
    session = await add_session(db)
    for status in ("running", "queued", "queued"):
        async with db.write() as conn:
            await run_store.insert(
                conn,
                values={
                    "id": new_id(),
                    "session_id": session,
                    "status": status,
                    "input": {"content": "x"},
                    "created_at": T0,
                },
            )
    with pytest.raises(IntegrityError):
        async with db.write() as conn:
            await run_store.insert(
                conn,
                values={
                    "id": new_id(),
                    "session_id": session,
                    "status": "running",
                    "input": {"content": "x"},
                    "created_at": T0,
                },
            )


@both_backends
async def test_i6_transition_is_compare_and_set(db):
    session = await add_session(db)
    run_id = new_id()
    async with db.write() as conn:
        await run_store.insert(
            conn,
            values={
                "id": run_id,
                "session_id": session,
                "status": "running",
                "owner": "a",
                "input": {},
                "created_at": T0,
            },
        )
    async with db.write() as conn:
        assert not await run_store.transition(
            conn, run_id=run_id, from_status="queued", values={"status": "cancelled"}
        )
        assert not await run_store.transition(
            conn, run_id=run_id, from_status="running", owner="b", values={"status": "failed"}
        )
        assert await run_store.transition(
            conn, run_id=run_id, from_status="running", owner="a", values={"status": "completed"}
        )
        assert not await run_store.transition(
            conn, run_id=run_id, from_status="running", owner="a", values={"status": "failed"}
        )
    async with db.read() as conn:
        assert (await run_store.get(conn, run_id=run_id))["status"] == "completed"


@both_backends
async def test_times_come_back_as_utc(db):
    session = await add_session(db, minutes=5)
    async with db.read() as conn:
        row = await session_store.get(conn, session_id=session)
    assert row["updated_at"] == T0 + timedelta(minutes=5)
    assert row["updated_at"].tzinfo is not None


@both_backends
async def test_purge_removes_everything_of_the_session(db):
    session = await add_session(db)
    await add_message(db, session, "bye")
    async with db.write() as conn:
        assert await session_store.delete(conn, session_id=session) == 1
    async with db.read() as conn:
        assert await message_store.last_live(conn, session_id=session) is None
    assert await listing(db, q="bye") == []
