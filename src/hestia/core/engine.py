"""One run's execution: the agent loop, with every event published live and persisted in batches.

Deltas are published to followers at once and buffered; the buffered events are flushed to
`run_events` at least every `flush_interval` (I2) and at every boundary (start, end of a model
step, each tool call, approvals, the end). The current message's text is kept in memory and
written to its row once, when the message closes; until then the stored deltas are its durable
text (`core/streamed.py` rebuilds it for reads and for the sweep). Each flush is a
compare-and-set on the run's status and owner (I6), so a run that was swept away from a stalled
owner is never written again.

A step streams one assistant message. When the model asks for tools, that message is closed
with its `tool_call` parts, each call runs (after an approval if the policy wants one) and is
stored as a `tool` message, and a new assistant message streams the next step.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import HestiaError, ProviderError
from ..ids import new_id, utcnow
from ..providers.base import (
    ChatMessage,
    Finished,
    Provider,
    ReasoningDelta,
    TextDelta,
    ToolCall,
)
from ..store import approvals as approval_store
from ..store import events as event_store
from ..store import messages as message_store
from ..store import runs as run_store
from ..store import sessions as session_store
from ..store.db import Database
from .agent import DENIED, STEP_LIMIT_NOTE, STOPPED, Agent
from .events import Event, EventBus
from .tools.base import ToolContext, ToolResult
from .views import message_view
from .workspace import Workspace

log = logging.getLogger(__name__)

MESSAGE_STATUS = {
    "completed": "complete",
    "failed": "error",
    "cancelled": "cancelled",
    "interrupted": "interrupted",
}

Extra = Callable[[AsyncConnection], Awaitable[None]]


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
    started: Event  # `run.started`, stored as event 1 when the run was promoted
    workspace: Workspace | None = None
    approval_policy: str = "dangerous"
    tools_enabled: bool = True
    parts: list[dict[str, Any]] = field(default_factory=list)
    runtime: str = "builtin"  # builtin | hermes (core/hermes.py)
    explicit_model: str | None = None  # the model the session or message chose, if any


_END = object()
_WAKE = object()  # pending events now exist: the consumer has a flush deadline to keep


class RunExecution:
    """Drives one running run to its terminal state. Owned by `RunManager`."""

    def __init__(
        self,
        *,
        ctx: RunContext,
        db: Database,
        bus: EventBus,
        provider: Provider,
        agent: Agent | None,
        flush_interval: float,
        lease_seconds: float,
    ) -> None:
        self.ctx = ctx
        self._db = db
        self._bus = bus
        self._provider = provider
        self._agent = agent if ctx.tools_enabled else None
        self._flush_interval = flush_interval
        self._lease_seconds = lease_seconds
        self._next_id = 1
        self._pending: list[Event] = []
        # The current message's text: its row gets it once, when the message closes.
        self._message_text: list[str] = []
        self._message_id = ctx.assistant_message_id
        self._message_parts: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        # The promotion has just set the lease; a flush renews it once a third has passed.
        self._lease_due = time.monotonic() + lease_seconds / 3
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._held: list[Event] = []  # emitted, published only once stored
        self._stopped = asyncio.Event()
        self._stop_reason: str | None = None  # "cancelled" or "interrupted", set from outside

    def request_stop(self, status: str) -> None:
        """Ask the execution to end as `cancelled` (user) or `interrupted` (shutdown)."""
        if self._stop_reason is None:
            self._stop_reason = status
            self._stopped.set()
            self._queue.put_nowait(_END)

    async def run(self) -> None:
        """Execute until a terminal state is stored; never raises except on cancellation."""
        self._bus.open(self.ctx.run_id)
        try:
            # Stored with the promotion, so the model is asked at once, without a write first;
            # it stays in the bus's backlog (a follower needs no store read) until a flush.
            self._next_id = self.ctx.started.id + 1
            self._bus.publish(self.ctx.run_id, self.ctx.started)
            status, error = await self._loop()
            await self._finish(status, error)
        except LostOwnership:
            log.warning("run %s: no longer owned by this process; stopped", self.ctx.run_id)
        except Exception:
            log.exception("run %s: could not be persisted; it will be interrupted", self.ctx.run_id)
        finally:
            self._bus.close(self.ctx.run_id)

    # -- the agent loop --------------------------------------------------------------------

    async def _loop(self) -> tuple[str, dict[str, str] | None]:
        history = list(self.ctx.history)
        max_steps = self._agent.max_steps if self._agent else 1
        for step in range(1, max_steps + 1):
            status, error, finished = await self._model_step(history)
            if finished is None:
                return status, error
            if not finished.tool_calls or self._agent is None:
                self._message_parts = list(finished.parts)
                return "completed", None
            text = await self._close_step(finished)
            history.append(ChatMessage("assistant", text, self._message_parts or None))
            for call in finished.tool_calls:
                result = await self._tool_step(call)
                if result is None:
                    return self._stop_reason or "cancelled", None
                part = _result_part(call, result)
                history.append(ChatMessage("tool", result.output, [part]))
            await self._open_message()
            if step == max_steps:
                self._add_text(STEP_LIMIT_NOTE.format(steps=max_steps).lstrip("\n"))
        return "completed", None

    async def _model_step(
        self, history: list[ChatMessage]
    ) -> tuple[str, dict[str, str] | None, Finished | None]:
        """Stream one model answer into the current message; returns how the step ended."""
        self._queue = asyncio.Queue()
        if self._stop_reason is not None:
            return self._stop_reason, None, None
        tools = self._agent.specs() if self._agent else []
        producer = asyncio.create_task(self._produce(history, tools))
        try:
            finished: Finished | None = None
            while True:
                item = await self._next_item()
                if item is None:
                    await self._flush()
                    continue
                if self._stop_reason is not None:
                    return self._stop_reason, None, None
                if item is _END:
                    if finished is not None:
                        return "completed", None, finished
                    error = ProviderError(
                        "The model provider ended the answer without finishing it.",
                        code="provider_stream_incomplete",
                    )
                    return "failed", error.to_dict(), None
                if isinstance(item, HestiaError):
                    return "failed", item.to_dict(), None
                if isinstance(item, Finished):
                    finished = item
                if time.monotonic() - self._last_flush >= self._flush_interval:
                    await self._flush()
        finally:
            if not producer.done():
                producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)

    async def _produce(self, history: list[ChatMessage], tools: list[Any]) -> None:
        queue = self._queue
        try:
            stream = self._provider.stream(history, model=self.ctx.model, tools=tools)
            async for item in stream:
                # Deltas go live here, not in the consumer, so they never wait for a flush
                # (whose database write can queue behind other runs'); the next flush stores
                # them. The consumer is woken only when a delta starts a new batch, so that it
                # keeps the flush deadline; waking it for every token cost CPU per token.
                if isinstance(item, TextDelta | ReasoningDelta):
                    starts_batch = not self._pending
                    if isinstance(item, TextDelta):
                        self._add_text(item.text)
                    else:
                        self._emit("reasoning.delta", {"text": item.text})
                    if starts_batch:
                        queue.put_nowait(_WAKE)
                    continue
                queue.put_nowait(item)
        except asyncio.CancelledError:
            raise
        except HestiaError as exc:
            queue.put_nowait(exc)
        except Exception as exc:  # a bug in an adapter must still end the run cleanly
            log.exception("run %s: provider adapter failed", self.ctx.run_id)
            queue.put_nowait(ProviderError(f"The model provider adapter failed: {exc}"))
        queue.put_nowait(_END)

    async def _next_item(self, deadline: float | None = None) -> object | None:
        """The next queue item, or None when the flush deadline (or `deadline`, a monotonic
        time) passes first."""
        limits = [] if deadline is None else [deadline]
        if self._pending:
            limits.append(self._last_flush + self._flush_interval)
        if not limits:
            return await self._queue.get()
        remaining = min(limits) - time.monotonic()
        if remaining <= 0:
            return None
        try:
            async with asyncio.timeout(remaining):
                return await self._queue.get()
        except TimeoutError:
            return None

    async def _close_step(self, finished: Finished) -> str:
        """End the step's message with its tool calls; returns the message's full text."""
        self._message_parts = [
            *finished.parts,
            *(
                {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments}
                for c in finished.tool_calls
            ),
        ]
        message = await self._completed_message("complete")
        self._emit("message.completed", {"message": message})
        await self._flush(close=("complete", self._message_parts))
        return message["content"]

    async def _open_message(self) -> None:
        """Start a new streaming assistant message for the next step."""
        message_id = new_id()
        now = utcnow()

        async def insert(conn: AsyncConnection) -> None:
            seq = await session_store.allocate_seqs(
                conn, session_id=self.ctx.session_id, count=1, now=now
            )
            await message_store.insert(
                conn,
                values={
                    "id": message_id,
                    "session_id": self.ctx.session_id,
                    "seq": seq,
                    "role": "assistant",
                    "content": "",
                    "status": "streaming",
                    "run_id": self.ctx.run_id,
                    "created_at": now,
                },
            )

        await self._flush(extra=insert)
        self._message_id = message_id
        self._message_parts = []

    # -- tools and approvals -------------------------------------------------------------------

    async def _tool_step(self, call: ToolCall) -> ToolResult | None:
        """Run one tool call (asking first if needed); None when the run was stopped."""
        assert self._agent is not None and self.ctx.workspace is not None
        args = _parse_arguments(call.arguments)
        self._emit(
            "tool.started",
            {
                "call_id": call.id,
                "name": call.name,
                "arguments": call.arguments if args is None else args,
            },
        )
        await self._flush()
        reason = None
        if args is not None:
            reason = self._agent.approval_reason(
                self.ctx.approval_policy, call.name, args, self.ctx.workspace
            )
        if reason is not None:
            decision = await self._ask(call, args or {}, reason)
            if decision is None:
                await self._record_result(call, ToolResult(STOPPED, is_error=True))
                return None
            if decision == "deny":
                return await self._record_result(call, ToolResult(DENIED, is_error=True))
        result = await self._run_tool(call)
        if result is None:
            await self._record_result(call, ToolResult(STOPPED, is_error=True))
            return None
        return await self._record_result(call, result)

    async def _ask(self, call: ToolCall, args: dict[str, Any], reason: str) -> str | None:
        """Ask the user unless a remembered grant covers the call; the decision or None."""
        assert self._agent is not None
        assert self.ctx.workspace is not None
        key = self._agent.approval_key(call.name, args, self.ctx.workspace)
        async with self._db.read() as conn:
            if await approval_store.is_granted(conn, session_id=self.ctx.session_id, key=key):
                return "once"
        return await self._request_approval(
            call, key=key, arguments=call.arguments, shown=args, reason=reason
        )

    async def _request_approval(
        self, call: ToolCall, *, key: str, arguments: str, shown: dict[str, Any], reason: str
    ) -> str | None:
        """Store an approval and `approval.requested`, then wait; the decision or None (stopped).

        `arguments` is what the row keeps, `shown` what the event shows the person.
        """
        assert self._agent is not None
        approval_id = new_id()
        now = utcnow()

        async def insert(conn: AsyncConnection) -> None:
            await approval_store.insert(
                conn,
                values={
                    "id": approval_id,
                    "run_id": self.ctx.run_id,
                    "session_id": self.ctx.session_id,
                    "call_id": call.id,
                    "tool": call.name,
                    "arguments": arguments,
                    "reason": reason,
                    "key": key,
                    "status": "pending",
                    "created_at": now,
                },
            )

        self._emit(
            "approval.requested",
            {
                "approval_id": approval_id,
                "call_id": call.id,
                "tool": call.name,
                "arguments": shown,
                "reason": reason,
            },
            publish=False,  # live only once the row exists, so an answer can find it
        )
        await self._flush(extra=insert)
        self._publish_flushed()
        decision = await self._agent.approvals.wait(approval_id, self._stopped)
        if decision is None:
            return None
        self._emit("approval.resolved", {"approval_id": approval_id, "decision": decision})
        await self._flush()
        return decision

    async def _run_tool(self, call: ToolCall) -> ToolResult | None:
        """Run the tool, flushing its live output; None if the run is stopped meanwhile."""
        assert self._agent is not None and self.ctx.workspace is not None

        def on_output(text: str) -> None:
            self._emit("tool.output", {"call_id": call.id, "text": text})

        ctx = ToolContext(workspace=self.ctx.workspace, on_output=on_output)
        task = asyncio.create_task(self._agent.run_tool(call.name, call.arguments, ctx))
        stopper = asyncio.ensure_future(self._stopped.wait())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {task, stopper},
                    timeout=self._flush_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if self._pending:
                    await self._flush()
                if task in done:
                    return task.result()
                if stopper in done:
                    task.cancel()  # the shell tool kills its process group
                    await asyncio.gather(task, return_exceptions=True)
                    return None
        finally:
            stopper.cancel()

    async def _record_result(self, call: ToolCall, result: ToolResult) -> ToolResult:
        """`tool.finished` and the `tool` message, in one flush."""
        part = _result_part(call, result)
        now = utcnow()
        self._emit(
            "tool.finished",
            {
                "call_id": call.id,
                "name": call.name,
                "output": result.output,
                "is_error": result.is_error,
            },
        )

        async def insert(conn: AsyncConnection) -> None:
            seq = await session_store.allocate_seqs(
                conn, session_id=self.ctx.session_id, count=1, now=now
            )
            await message_store.insert(
                conn,
                values={
                    "id": new_id(),
                    "session_id": self.ctx.session_id,
                    "seq": seq,
                    "role": "tool",
                    "content": result.output,
                    "parts": [part],
                    "status": "complete",
                    "run_id": self.ctx.run_id,
                    "created_at": now,
                },
            )

        await self._flush(extra=insert)
        return result

    # -- events and persistence ----------------------------------------------------------------

    def _add_text(self, text: str) -> None:
        self._message_text.append(text)
        self._emit("message.delta", {"text": text})

    def _emit(self, type_: str, data: dict[str, Any], *, publish: bool = True) -> Event:
        event = Event.make(self._next_id, type_, data)
        self._next_id += 1
        self._pending.append(event)
        if publish:
            self._bus.publish(self.ctx.run_id, event)
        else:
            self._held.append(event)
        return event

    def _publish_flushed(self) -> None:
        """Publish the events held back until they were stored."""
        for event in self._held:
            self._bus.publish(self.ctx.run_id, event)
        self._held.clear()

    async def _flush(
        self,
        *,
        close: tuple[str, list[dict[str, Any]]] | None = None,
        run_values: dict[str, Any] | None = None,
        extra: Extra | None = None,
    ) -> None:
        """Write pending events in one transaction, if the run is still ours.

        `close` ends the current message with a status and parts, writing its text;
        `run_values` ends the run; `extra` writes more rows in the same transaction.
        """
        # A snapshot: the producer may add deltas while this write is in flight.
        stored, closed = len(self._pending), len(self._message_text)
        events = [(e.id, e.type, e.data) for e in self._pending]
        now = utcnow()
        last_id = self._next_id - 1
        values: dict[str, Any] = {}
        if run_values is not None:
            values = {**run_values, "last_event_id": last_id}
        # The upkeep task renews leases too; rewriting the indexed lease on every flush cost a
        # page write per flush, so a flush renews it only once a third of it has passed.
        if time.monotonic() >= self._lease_due:
            values["lease_expires_at"] = now + timedelta(seconds=self._lease_seconds)
            self._lease_due = time.monotonic() + self._lease_seconds / 3
        # Only the run's last flush waits for the disk; see Database.write.
        async with self._db.write(durable=run_values is not None) as conn:
            # Most flushes change nothing in the run's row: they check it (still ours, as a
            # compare-and-set would) without rewriting it, which cost a page write each.
            if values:
                cancel_requested = await run_store.renew(
                    conn, run_id=self.ctx.run_id, owner=self.ctx.owner, values=values
                )
            else:
                cancel_requested = await run_store.check_owner(
                    conn, run_id=self.ctx.run_id, owner=self.ctx.owner
                )
            if cancel_requested is None:
                raise LostOwnership(self.ctx.run_id)
            await event_store.append(conn, run_id=self.ctx.run_id, events=events, now=now)
            # While a message streams its text is stored only as the events' deltas (rebuilt
            # by core/streamed.py); rewriting the growing row at every flush cost O(n²) bytes.
            if close is not None:
                status, parts = close
                await message_store.finish(
                    conn,
                    message_id=self._message_id,
                    content="".join(self._message_text[:closed]),
                    status=status,
                    parts=parts,
                )
            if extra is not None:
                await extra(conn)
            if run_values is not None:
                await approval_store.expire_for_run(conn, run_id=self.ctx.run_id, now=now)
                await session_store.update(
                    conn, session_id=self.ctx.session_id, values={"updated_at": now}
                )
        del self._pending[:stored]
        if close is not None:
            del self._message_text[:closed]
        self._last_flush = time.monotonic()
        self._bus.flushed(self.ctx.run_id, last_id)
        if cancel_requested and run_values is None:
            # Asked by another process, or before this execution was registered.
            self.request_stop("cancelled")

    async def _completed_message(self, status: str) -> dict[str, Any]:
        """The current message as it will be once it is closed."""
        async with self._db.read() as conn:
            row = await message_store.get(conn, message_id=self._message_id)
        assert row is not None
        message = message_view(row)
        # A streaming row holds no text yet; a closed one (the run stopped between steps)
        # holds all of it.
        message["content"] += "".join(self._message_text)
        message["status"] = status
        message["parts"] = self._message_parts
        return message

    async def _finish(self, status: str, error: dict[str, str] | None) -> None:
        message_status = MESSAGE_STATUS[status]
        # The final events go live only once stored: a client that sees the run end and then
        # reads the run or the transcript finds both finished.
        message = await self._completed_message(message_status)
        self._emit("message.completed", {"message": message}, publish=False)
        terminal: dict[str, Any] = {"run_id": self.ctx.run_id}
        if error is not None:
            terminal["error"] = error
        self._emit(f"run.{status}", terminal, publish=False)
        await self._flush(
            close=(message_status, self._message_parts),
            run_values={"status": status, "finished_at": utcnow(), "error": error},
        )
        self._publish_flushed()


def _parse_arguments(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _result_part(call: ToolCall, result: ToolResult) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "call_id": call.id,
        "name": call.name,
        "is_error": result.is_error,
    }
