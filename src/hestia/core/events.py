"""Run events: the in-process live bus, and `follow`, which replays then tails a run's log.

The owner of a run publishes each event to the bus the moment it exists and writes it to
`run_events` on the next flush. A follower subscribes first (taking a snapshot of the
not-yet-flushed backlog), then replays the store, then the backlog, then live events — so the
union is gapless whatever the timing (I3). Runs owned by another process are tailed by polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..store import events as event_store
from ..store import runs as run_store
from ..store.db import Database

TERMINAL_EVENTS = frozenset({"run.completed", "run.failed", "run.cancelled", "run.interrupted"})
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "interrupted"})
SUBSCRIBER_QUEUE = 2048
FIRST_PAGE, PAGE = 100, 1000  # events read from the store at a time when catching up


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a run: its 1-based id, type, and JSON text."""

    id: int
    type: str
    data: str

    @classmethod
    def make(cls, event_id: int, type_: str, data: dict[str, object]) -> Event:
        """Encode `data` once; the same text is stored, published and replayed."""
        return cls(event_id, type_, orjson.dumps(data).decode())

    @property
    def terminal(self) -> bool:
        """Whether this event ends the run's stream."""
        return self.type in TERMINAL_EVENTS


@dataclass(eq=False, slots=True)
class Subscription:
    """A follower's view of one run: a bounded queue and the backlog at subscribe time."""

    run_id: str
    backlog: list[Event]
    queue: asyncio.Queue[Event] = field(
        default_factory=lambda: asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
    )
    lagged: bool = False

    def offer(self, event: Event) -> None:
        """Queue an event; a follower that falls this far behind re-reads from the store."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagged = True


class EventBus:
    """Fans live events of locally owned runs out to followers in this process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._pending: dict[str, list[Event]] = {}

    def is_local(self, run_id: str) -> bool:
        """Whether this process owns the run and publishes its events."""
        return run_id in self._pending

    def open(self, run_id: str) -> None:
        """This process starts owning a run."""
        self._pending.setdefault(run_id, [])

    def close(self, run_id: str) -> None:
        """This process stops owning a run (its last events are flushed)."""
        self._pending.pop(run_id, None)

    def publish(self, run_id: str, event: Event) -> None:
        """Hand a new event to every follower now; it stays in the backlog until flushed."""
        self._pending.setdefault(run_id, []).append(event)
        for subscription in self._subscribers.get(run_id, ()):
            subscription.offer(event)

    def flushed(self, run_id: str, up_to: int) -> None:
        """Events up to `up_to` are in the store; drop them from the backlog."""
        pending = self._pending.get(run_id)
        if pending:
            self._pending[run_id] = [e for e in pending if e.id > up_to]

    def subscribe(self, run_id: str) -> Subscription:
        """Follow a run; the snapshot of its backlog is taken atomically with the subscription."""
        subscription = Subscription(run_id, list(self._pending.get(run_id, ())))
        self._subscribers.setdefault(run_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop following."""
        subscribers = self._subscribers.get(subscription.run_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.run_id]


async def follow(
    db: Database, bus: EventBus, run_id: str, *, after: int, poll_seconds: float = 0.5
) -> AsyncIterator[Event]:
    """Every event of the run after `after`, in order, ending with the terminal event."""
    async for batch in follow_batches(db, bus, run_id, after=after, poll_seconds=poll_seconds):
        for event in batch:
            yield event


async def follow_batches(
    db: Database,
    bus: EventBus,
    run_id: str,
    *,
    after: int,
    poll_seconds: float = 0.5,
    run: Mapping[str, Any] | None = None,
) -> AsyncIterator[list[Event]]:
    """`follow` in lists: what is ready at once (a page of the store, the live events already
    queued) comes together, so a stream sends it in one write instead of one per event.
    `run`: the run's row, if the caller has just read it."""
    last = after
    # A run this process is streaming has not ended, or its end is still in the backlog: the
    # store need not be asked (it saves a read before a live stream's first event).
    ended = None if bus.is_local(run_id) else await _ended_behind(db, run_id, last, run)
    if ended is not None:
        if after > ended.id:
            yield [ended]  # only after a crash (see _ended_behind)
        return
    while True:
        subscription = bus.subscribe(run_id)
        try:
            async for batch in _catch_up(db, subscription, last):
                batch = _until_terminal(batch)
                yield batch
                last = batch[-1].id
                if batch[-1].terminal:
                    return
            while not subscription.lagged:
                event = await _next_live(subscription, poll_seconds)
                if event is None:
                    if bus.is_local(run_id):
                        continue
                    break  # not ours: poll the store
                batch: list[Event] = []
                resync = False
                while event is not None:
                    if event.id > last:
                        if event.id != last + 1:
                            resync = True  # should not happen; resynchronise from the store
                            break
                        batch.append(event)
                        last = event.id
                        if event.terminal:
                            break
                    event = _ready(subscription)
                if batch:
                    yield batch
                    if batch[-1].terminal:
                        return
                if resync:
                    break
            if not bus.is_local(run_id):
                ended = await _ended_behind(db, run_id, last)
                if ended is not None:
                    if last > ended.id:
                        yield [ended]
                    return
        finally:
            bus.unsubscribe(subscription)


def _until_terminal(batch: list[Event]) -> list[Event]:
    for index, event in enumerate(batch):
        if event.terminal:
            return batch[: index + 1]
    return batch


def _ready(subscription: Subscription) -> Event | None:
    """The next queued live event if one is waiting already."""
    try:
        return subscription.queue.get_nowait()
    except asyncio.QueueEmpty:
        return None


async def _catch_up(
    db: Database, subscription: Subscription, last: int
) -> AsyncIterator[list[Event]]:
    # A small first page gets a reconnecting client its first event sooner.
    limit = FIRST_PAGE
    backlog = subscription.backlog
    # Everything after `last` is still unflushed (a live stream's new follower): no store read.
    while not (backlog and backlog[0].id <= last + 1):
        async with db.read() as conn:
            rows = await event_store.after(
                conn, run_id=subscription.run_id, after_id=last, limit=limit
            )
        if rows:
            yield [Event(event_id, type_, data) for event_id, type_, data in rows]
            last = rows[-1][0]
        if len(rows) < limit:
            break
        limit = PAGE
    ready: list[Event] = []
    for event in backlog:
        if event.id == last + 1:
            ready.append(event)
            last = event.id
    if ready:
        yield ready


async def _next_live(subscription: Subscription, wait: float) -> Event | None:
    try:
        async with asyncio.timeout(wait):
            return await subscription.queue.get()
    except TimeoutError:
        return None


async def _ended_behind(
    db: Database, run_id: str, last: int, run: Mapping[str, Any] | None = None
) -> Event | None:
    """The terminal event of a run that ended at or before `last`, if it did.

    A follower at the end of a finished run gets nothing more. One *past* the end exists only
    after a crash: it saw live events that were never flushed, and the sweep then wrote
    `run.interrupted` under an id it already used; it is sent that event so it learns the end.
    `run`: the run's row if the caller has just read it (one read fewer).
    """
    if run is not None and (run["status"] not in TERMINAL_STATUSES or run["last_event_id"] > last):
        return None  # the common case of a reconnect: nothing to read
    async with db.read() as conn:
        if run is None:
            run = await run_store.get(conn, run_id=run_id)
        if run is None or run["status"] not in TERMINAL_STATUSES:
            return None
        if run["last_event_id"] > last:
            return None
        rows = await event_store.after(
            conn, run_id=run_id, after_id=max(run["last_event_id"] - 1, 0), limit=1
        )
    if rows and rows[0][1] in TERMINAL_EVENTS:
        return Event(*rows[0])
    return None
