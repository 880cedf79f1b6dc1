"""Deterministic races of the run state machine (I5, I6), on SQLite and PostgreSQL.

Each test pauses one actor at the exact point where a naive implementation would go wrong,
lets the other actor act, then releases the first — no sleeps decide the interleaving.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from hestia.core import streamed
from hestia.core.owner import Owner
from hestia.ids import new_id, utcnow
from hestia.store import events as event_store
from hestia.store import messages as message_store
from hestia.store import runs as run_store
from tests.conftest import both_backends
from tests.core_harness import expire_lease, peer, running_services, settings_for

SLOW = '#fake {"tokens": 400, "delay": 0.01}'
QUICK = '#fake {"tokens": 3}'
DEAD_HOST = Owner("host-that-died", 4242, "deadbeef")
OTHER_HOST = Owner("host-still-up", 4343, "cafef00d")


async def wait_until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.01)


async def run_row(services, run_id):
    async with services.db.read() as conn:
        return await run_store.get(conn, run_id=run_id)


async def events_of(services, run_id):
    async with services.db.read() as conn:
        return await event_store.after(conn, run_id=run_id, after_id=0)


async def crash(manager, run_id) -> None:
    """Stop a run's execution without any shutdown code, as kill -9 would."""
    task = manager._tasks[run_id]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@both_backends
async def test_i6_stale_sweep_never_touches_the_next_run(database_url, tmp_path, fake):
    settings = settings_for(database_url, tmp_path, fake)
    async with running_services(settings) as services:
        session = await services.sessions.create()
        dead = peer(services, DEAD_HOST)
        stale = await dead.submit(session["id"], content=f"first {SLOW}")
        await wait_until(lambda: _has_text(services, stale["assistant_message_id"]))
        await crash(dead, stale["id"])
        queued = await services.runs.submit(session["id"], content=f"second {SLOW}")
        assert queued["status"] == "queued"
        await expire_lease(services, stale["id"])

        # Sweeper A picks the stale run, then stops right before interrupting it.
        paused, release = asyncio.Event(), asyncio.Event()

        async def pause_here(_run) -> None:
            paused.set()
            await release.wait()

        sweeper_a = peer(services, Owner("sweeper-a", 1, "a"))
        sweeper_a.before_interrupt = pause_here
        sweep_a = asyncio.create_task(sweeper_a.sweep())
        await paused.wait()

        # Meanwhile sweeper B interrupts it and the queued run starts under B.
        sweeper_b = peer(services, Owner("sweeper-b", 2, "b"))
        assert await sweeper_b.sweep() == 1
        fresh = await run_row(services, queued["id"])
        assert fresh["status"] == "running" and fresh["owner"] == "sweeper-b:2:b"

        release.set()
        assert await sweep_a == 0  # its compare-and-set found nothing to do

        fresh = await run_row(services, queued["id"])
        assert fresh["status"] == "running" and fresh["owner"] == "sweeper-b:2:b"
        async with services.db.read() as conn:
            answer = await message_store.get(conn, message_id=fresh["assistant_message_id"])
        assert answer["status"] == "streaming"
        events = await events_of(services, stale["id"])
        assert [e[0] for e in events] == list(range(1, len(events) + 1))
        assert [e[1] for e in events].count("run.interrupted") == 1
        assert (await run_row(services, stale["id"]))["status"] == "interrupted"

        await sweeper_b.cancel(queued["id"])
        await sweeper_b.wait_idle(queued["id"])
        await sweeper_b.shutdown()
        await sweeper_a.shutdown()


@both_backends
async def test_i6_a_stalled_owner_cannot_write_after_its_run_was_swept(
    database_url, tmp_path, fake
):
    settings = settings_for(database_url, tmp_path, fake)
    async with running_services(settings) as services:
        session = await services.sessions.create()
        stalled = peer(services, OTHER_HOST)
        run = await stalled.submit(session["id"], content=f"go {SLOW}")
        await wait_until(lambda: _has_text(services, run["assistant_message_id"]))
        await expire_lease(services, run["id"])

        assert await services.runs.sweep() == 1
        async with services.db.read() as conn:
            kept = await message_store.get(conn, message_id=run["assistant_message_id"])
        swept_events = await events_of(services, run["id"])

        # The stalled owner carries on streaming; its next flush must find the run gone.
        await stalled.wait_idle(run["id"])
        assert await events_of(services, run["id"]) == swept_events
        async with services.db.read() as conn:
            final = await message_store.get(conn, message_id=run["assistant_message_id"])
        assert final["content"] == kept["content"] and final["status"] == "interrupted"
        assert swept_events[-1][1] == "run.interrupted"
        await stalled.shutdown()


@both_backends
async def test_i5_concurrent_starts_run_one_at_a_time(database_url, tmp_path, fake):
    settings = settings_for(database_url, tmp_path, fake)
    async with running_services(settings) as services:
        session = await services.sessions.create()
        managers = [peer(services, Owner(f"proc-{i}", 10 + i, str(i))) for i in range(4)]
        # Queue three runs without starting any: all managers then race to start one.
        ids = []
        for i in range(3):
            created = await managers[0]._create(
                session["id"],
                kind="send",
                run_input={"content": f"m{i} {QUICK}"},
                model=None,
                start=False,
            )
            ids.append(created.run["id"])
        started = await asyncio.gather(*(m.start_next(session["id"]) for m in managers))
        assert [s for s in started if s is not None] == [ids[0]]
        for manager in managers:
            await manager.wait_idle(ids[0])
        # Each run starts the next when it ends; wait for all three, then check order.
        for run_id in ids:
            await wait_until(lambda r=run_id: _finished(services, r))
        async with services.db.read() as conn:
            rows, _ = await message_store.page(
                conn, session_id=session["id"], limit=100, before_seq=None, include_superseded=True
            )
        assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
        assert [r["role"] for r in rows] == ["user", "assistant"] * 3
        assert [r["content"].split(" ")[0] for r in rows[::2]] == ["m0", "m1", "m2"]
        for manager in managers:
            await manager.shutdown()


POSTGRES_ONLY = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


async def _stale_run(services) -> str:
    """A running run whose owner is gone (lease expired), with no events yet."""
    session = await services.sessions.create()
    run_id = new_id()
    async with services.db.write() as conn:
        await run_store.insert(
            conn,
            values={
                "id": run_id,
                "session_id": session["id"],
                "status": "running",
                "owner": str(DEAD_HOST),
                "lease_expires_at": utcnow() - timedelta(seconds=60),
                "input": {"content": "x"},
                "created_at": utcnow(),
            },
        )
    return run_id


async def _lock_waiters(services) -> int:
    async with services.db.read() as conn:
        query = sa.text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int((await conn.execute(query)).scalar_one())


def _events(*types: str, first: int = 1) -> list[tuple[int, str, str]]:
    return [(first + i, t, '{"text":"x"}') for i, t in enumerate(types)]


# On SQLite every write transaction excludes the others (BEGIN IMMEDIATE behind one lock), so
# a flush's check and the sweep's compare-and-set cannot interleave there at all; PostgreSQL
# runs them concurrently, and the check's row lock is what orders them.


@POSTGRES_ONLY
async def test_i6_the_sweep_waits_for_a_flush_in_flight_and_writes_after_it(
    database_url, tmp_path, fake
):
    settings = settings_for(database_url, tmp_path, fake)
    async with running_services(settings) as services:
        run_id = await _stale_run(services)
        async with services.db.read() as conn:
            [stale] = [r for r in await run_store.running(conn) if r["id"] == run_id]
        async with services.db.write() as conn:
            assert await run_store.check_owner(conn, run_id=run_id, owner=str(DEAD_HOST)) is False
            sweep = asyncio.create_task(services.runs._interrupt_stale(stale))
            await wait_until(lambda: _waiting(services, 1))
            await event_store.append(
                conn, run_id=run_id, events=_events("message.delta", "message.delta"), now=utcnow()
            )
        assert await sweep is True
        events = await events_of(services, run_id)
        assert [(e[0], e[1]) for e in events] == [
            (1, "message.delta"),
            (2, "message.delta"),
            (3, "run.interrupted"),
        ]
        assert (await run_row(services, run_id))["last_event_id"] == 3


@POSTGRES_ONLY
async def test_i6_a_flush_behind_the_sweep_finds_the_run_gone(database_url, tmp_path, fake):
    settings = settings_for(database_url, tmp_path, fake)
    async with running_services(settings) as services:
        run_id = await _stale_run(services)

        async def flush() -> bool | None:
            async with services.db.write() as conn:
                mine = await run_store.check_owner(conn, run_id=run_id, owner=str(DEAD_HOST))
                if mine is not None:
                    await event_store.append(
                        conn, run_id=run_id, events=_events("message.delta"), now=utcnow()
                    )
                return mine

        async with services.db.write() as conn:
            assert await run_store.transition(
                conn,
                run_id=run_id,
                from_status="running",
                owner=str(DEAD_HOST),
                values={"status": "interrupted"},
            )
            late = asyncio.create_task(flush())
            await wait_until(lambda: _waiting(services, 1))
        assert await late is None
        assert await events_of(services, run_id) == []


async def _waiting(services, count: int) -> bool:
    return await _lock_waiters(services) >= count


async def _has_text(services, message_id) -> bool:
    """Whether the streaming message has stored text (its deltas, while it streams)."""
    async with services.db.read() as conn:
        row = await message_store.get(conn, message_id=message_id)
        if row is None:
            return False
        [row] = await streamed.fill_streaming(conn, [row])
    return len(row["content"]) > 20


async def _finished(services, run_id) -> bool:
    return (await run_row(services, run_id))["status"] == "completed"
