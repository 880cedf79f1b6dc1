"""One run's execution: stream the model's answer, publish events live, persist them in batches.

Deltas are published to followers at once and buffered; the buffer is flushed — events and
the assistant message's new text in one transaction — at least every `flush_interval` (I2)
and at every boundary (start, end). Each flush is a compare-and-set on the run's status and
owner (I6), so a run that was swept away from a stalled owner is never written again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..errors import HestiaError, ProviderError
from ..ids import utcnow
from ..providers.base import ChatMessage, Finished, Provider, ReasoningDelta, TextDelta
from ..store import events as event_store
from ..store import messages as message_store
from ..store import runs as run_store
from ..store import sessions as session_store
from ..store.db import Database
from .events import Event, EventBus
from .views import message_view

log = logging.getLogger(__name__)

MESSAGE_STATUS = {
    "completed": "complete",
    "failed": "error",
    "cancelled": "cancelled",
    "interrupted": "interrupted",
}


class LostOwnership(Exception):
    """The run is no longer ours (swept as stale, or purged): stop without writing."""


@dataclass(slots=True)
class RunContext:
    """What an execution needs to know about its run, fixed when the run started."""

    run_id: str
    session_id: str
    owner: str
    model: str
    assistant_message_id: str
    history: list[ChatMessage]


_END = object()


class RunExecution:
    """Drives one running run to its terminal state. Owned by `RunManager`."""

    def __init__(
        self,
        *,
        ctx: RunContext,
        db: Database,
        bus: EventBus,
        provider: Provider,
        flush_interval: float,
        lease_seconds: float,
        on_flush: Callable[[], Any] | None = None,
    ) -> None:
        self.ctx = ctx
        self._db = db
        self._bus = bus
        self._provider = provider
        self._flush_interval = flush_interval
        self._lease_seconds = lease_seconds
        self._on_flush = on_flush
        self._next_id = 1
        self._pending: list[Event] = []
        self._pending_text: list[str] = []
        self._last_flush = time.monotonic()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._stop_reason: str | None = None  # "cancelled" or "interrupted", set from outside

    def request_stop(self, status: str) -> None:
        """Ask the execution to end as `cancelled` (user) or `interrupted` (shutdown)."""
        if self._stop_reason is None:
            self._stop_reason = status
            self._queue.put_nowait(_END)

    async def run(self) -> None:
        """Execute until a terminal state is stored; never raises except on cancellation."""
        self._bus.open(self.ctx.run_id)
        producer: asyncio.Task[None] | None = None
        try:
            self._emit("run.started", {"run_id": self.ctx.run_id, "model": self.ctx.model})
            await self._flush()
            producer = asyncio.create_task(self._produce())
            status, error = await self._consume()
            await self._finish(status, error)
        except LostOwnership:
            log.warning("run %s: no longer owned by this process; stopped", self.ctx.run_id)
        except Exception:
            log.exception("run %s: could not be persisted; it will be interrupted", self.ctx.run_id)
        finally:
            if producer is not None and not producer.done():
                producer.cancel()
                await asyncio.gather(producer, return_exceptions=True)
            self._bus.close(self.ctx.run_id)

    async def _produce(self) -> None:
        try:
            async for item in self._provider.stream(self.ctx.history, model=self.ctx.model):
                self._queue.put_nowait(item)
        except asyncio.CancelledError:
            raise
        except HestiaError as exc:
            self._queue.put_nowait(exc)
        except Exception as exc:  # a bug in an adapter must still end the run cleanly
            log.exception("run %s: provider adapter failed", self.ctx.run_id)
            self._queue.put_nowait(ProviderError(f"The model provider adapter failed: {exc}"))
        self._queue.put_nowait(_END)

    async def _consume(self) -> tuple[str, dict[str, str] | None]:
        finished = False
        while True:
            item = await self._next_item()
            if item is None:
                await self._flush()
                continue
            if self._stop_reason is not None:
                return self._stop_reason, None
            if item is _END:
                if finished:
                    return "completed", None
                return "failed", ProviderError(
                    "The model provider ended the answer without finishing it.",
                    code="provider_stream_incomplete",
                ).to_dict()
            if isinstance(item, HestiaError):
                return "failed", item.to_dict()
            if isinstance(item, TextDelta):
                self._pending_text.append(item.text)
                self._emit("message.delta", {"text": item.text})
            elif isinstance(item, ReasoningDelta):
                self._emit("reasoning.delta", {"text": item.text})
            elif isinstance(item, Finished):
                finished = True
            if time.monotonic() - self._last_flush >= self._flush_interval:
                await self._flush()

    async def _next_item(self) -> object | None:
        """The next stream item, or None when the flush deadline passes first."""
        if not self._pending:
            return await self._queue.get()
        remaining = self._last_flush + self._flush_interval - time.monotonic()
        if remaining <= 0:
            return None
        try:
            async with asyncio.timeout(remaining):
                return await self._queue.get()
        except TimeoutError:
            return None

    def _emit(self, type_: str, data: dict[str, Any], *, publish: bool = True) -> Event:
        event = Event.make(self._next_id, type_, data)
        self._next_id += 1
        self._pending.append(event)
        if publish:
            self._bus.publish(self.ctx.run_id, event)
        return event

    async def _flush(self, final: dict[str, Any] | None = None) -> None:
        """Write pending events and text in one transaction, if the run is still ours."""
        events = [(e.id, e.type, e.data) for e in self._pending]
        text = "".join(self._pending_text)
        now = utcnow()
        last_id = self._next_id - 1
        values: dict[str, Any] = {
            "last_event_id": last_id,
            "lease_expires_at": now + timedelta(seconds=self._lease_seconds),
        }
        if final is not None:
            values.update(final["run"])
        async with self._db.write() as conn:
            cancel_requested = await run_store.renew(
                conn, run_id=self.ctx.run_id, owner=self.ctx.owner, values=values
            )
            if cancel_requested is None:
                raise LostOwnership(self.ctx.run_id)
            await event_store.append(conn, run_id=self.ctx.run_id, events=events, now=now)
            if final is not None:
                await message_store.finish(
                    conn,
                    message_id=self.ctx.assistant_message_id,
                    text=text,
                    status=final["message_status"],
                )
                await session_store.update(
                    conn, session_id=self.ctx.session_id, values={"updated_at": now}
                )
            elif text:
                await message_store.append_content(
                    conn, message_id=self.ctx.assistant_message_id, text=text
                )
        self._pending.clear()
        self._pending_text.clear()
        self._last_flush = time.monotonic()
        self._bus.flushed(self.ctx.run_id, last_id)
        if cancel_requested and final is None:
            # Asked by another process, or before this execution was registered.
            self.request_stop("cancelled")
        if self._on_flush is not None:
            self._on_flush()

    async def _finish(self, status: str, error: dict[str, str] | None) -> None:
        message_status = MESSAGE_STATUS[status]
        async with self._db.read() as conn:
            row = await message_store.get(conn, message_id=self.ctx.assistant_message_id)
        # The final events go live only once stored: a client that sees the run end and then
        # reads the run or the transcript finds both finished.
        final: list[Event] = []
        if row is not None:
            message = message_view(row)
            message["content"] += "".join(self._pending_text)
            message["status"] = message_status
            final.append(self._emit("message.completed", {"message": message}, publish=False))
        terminal: dict[str, Any] = {"run_id": self.ctx.run_id}
        if error is not None:
            terminal["error"] = error
        final.append(self._emit(f"run.{status}", terminal, publish=False))
        await self._flush(
            {
                "run": {"status": status, "finished_at": utcnow(), "error": error},
                "message_status": message_status,
            }
        )
        for event in final:
            self._bus.publish(self.ctx.run_id, event)
