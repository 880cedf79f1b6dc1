"""A run on the Hermes Agent runtime: the owner's side of `hestia.runtimes.hermes_worker`.

The owner (the process holding the run's lease) starts one worker process per run, in its own
process group, sends it the request on stdin and reads its JSON lines. Every line becomes what
the built-in loop would have produced — `message.delta`, `reasoning.delta`, `tool.started`,
`tool.finished`, assistant messages with `tool_call` parts, `tool` messages, approvals — through
the same buffered, compare-and-set flush (`RunExecution._flush`), so I2, I3 and I4 hold as for
any run. Cancel asks the worker to `interrupt()` and kills its process group after a grace; a
worker that dies without finishing ends the run `failed` with its last stderr lines.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..config import Settings
from ..errors import HestiaError
from ..ids import new_id, utcnow
from ..providers.base import ChatMessage, ToolCall
from ..store import approvals as approval_store
from ..store import messages as message_store
from ..store import sessions as session_store
from . import runtimes
from .engine import RunExecution
from .hermes_process import EXITED, WorkerProcess


class HermesError(HestiaError):
    """The Hermes run could not finish: the worker failed, crashed or reported an error."""

    status = 502
    code = "hermes_failed"


def to_openai_messages(history: list[ChatMessage]) -> list[dict[str, Any]]:
    """Hestia's history (already repaired by `build_history`) in the OpenAI chat format."""
    messages: list[dict[str, Any]] = []
    for item in history:
        parts = item.parts or []
        if item.role == "tool":
            call_id = next((p.get("call_id") for p in parts if p.get("type") == "tool_result"), "")
            messages.append({"role": "tool", "tool_call_id": call_id, "content": item.content})
            continue
        message: dict[str, Any] = {"role": item.role, "content": item.content}
        calls = [p for p in parts if p.get("type") == "tool_call"]
        if item.role == "assistant" and calls:
            message["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {
                        "name": c.get("name", ""),
                        "arguments": c.get("arguments") or "{}",
                    },
                }
                for c in calls
            ]
        messages.append(message)
    return messages


class HermesExecution(RunExecution):
    """Drives one run whose session's runtime is `hermes`."""

    def __init__(self, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._worker: WorkerProcess | None = None
        self._streamed = False  # the current message received text
        self._current_call: ToolCall | None = None
        self._finished_calls: dict[str, bool] = {}  # call id → is_error, this tool batch

    # -- the loop: worker lines instead of provider items -------------------------------------

    async def _loop(self) -> tuple[str, dict[str, str] | None]:
        problem = self._cannot_start()
        if problem is not None:
            return "failed", HermesError(problem).to_dict()
        try:
            await self._start_worker()
        except OSError as exc:
            error = HermesError(f"The Hermes worker could not start: {exc}")
            return "failed", error.to_dict()
        assert self._worker is not None
        interrupt_sent = False
        deadline: float | None = None
        try:
            while True:
                if self._stop_reason is not None and not interrupt_sent:
                    interrupt_sent = True
                    self._send({"type": "interrupt"})
                    deadline = time.monotonic() + self._settings.hermes_cancel_grace
                if deadline is not None and time.monotonic() >= deadline:
                    return self._stop_reason or "cancelled", None
                item = await self._next_item(deadline)
                if item is None:
                    await self._flush()
                    continue
                if item is EXITED:
                    if self._stop_reason is not None:
                        return self._stop_reason, None
                    return "failed", HermesError(self._worker.crash_report()).to_dict()
                if not isinstance(item, dict):
                    continue  # the `_END` a stop request queues: the loop top handles it
                outcome = await self._handle(item)
                if outcome is not None:
                    if self._stop_reason is not None:
                        return self._stop_reason, None
                    return outcome
                if time.monotonic() - self._last_flush >= self._flush_interval:
                    await self._flush()
        finally:
            await self._worker.stop()

    def _cannot_start(self) -> str | None:
        """Why a worker would fail at once, said plainly (and without starting one)."""
        status = runtimes.hermes_status()
        if not status.available:
            return f"This session runs on Hermes, but {status.reason}"
        home = self._settings.effective_hermes_home
        if self._settings.hermes_provider == "hermes" and not home.is_dir():
            return (
                f"Hermes has no home at {home}: run `hermes setup`, point HERMES_HOME (or "
                "HESTIA_HERMES_HOME) at yours, or set HESTIA_HERMES_PROVIDER=hestia."
            )
        return None

    async def _handle(self, line: dict[str, Any]) -> tuple[str, dict[str, str] | None] | None:
        """Apply one worker line; returns the run's outcome when the worker is done."""
        kind = line.get("type")
        if kind == "delta":
            text = str(line.get("text", ""))
            if not self._streamed:
                # Hermes opens each step after tools with a paragraph break; a new message
                # needs none (the event and the message get the same text: I4).
                text = text.lstrip("\n")
            if text:
                self._add_text(text)
                self._streamed = True
        elif kind == "reasoning":
            self._emit("reasoning.delta", {"text": str(line.get("text", ""))})
        elif kind == "step":
            await self._close_hermes_step(line)
        elif kind == "tool.started":
            self._current_call = ToolCall(
                str(line.get("call_id", "")),
                str(line.get("name", "")),
                json.dumps(line.get("arguments")),
            )
            self._emit(
                "tool.started",
                {
                    "call_id": self._current_call.id,
                    "name": self._current_call.name,
                    "arguments": line.get("arguments"),
                },
            )
            await self._flush()
        elif kind == "tool.finished":
            self._finished_calls[str(line.get("call_id", ""))] = bool(line.get("is_error"))
            self._emit(
                "tool.finished",
                {
                    "call_id": line.get("call_id"),
                    "name": line.get("name"),
                    "output": line.get("output", ""),
                    "is_error": bool(line.get("is_error")),
                },
            )
            await self._flush()
        elif kind == "results":
            await self._store_results(line.get("results") or [])
        elif kind == "approval":
            decision = await self._ask_hermes(line)
            if decision is None:
                return self._stop_reason or "cancelled", None
            # Hestia remembers "always" itself (revocable in its settings); Hermes keeps it
            # for this run only, never in the user's HERMES_HOME allowlist.
            self._send({"type": "approval", "decision": _for_hermes(decision)})
        elif kind == "done":
            return self._done(line)
        elif kind == "error":
            return "failed", HermesError(f"Hermes failed: {line.get('message')}").to_dict()
        return None

    def _done(self, line: dict[str, Any]) -> tuple[str, dict[str, str] | None]:
        final = str(line.get("final_response") or "")
        if line.get("failed"):
            message = line.get("error") or final or "Hermes reported a failed run."
            return "failed", HermesError(f"Hermes failed: {message}").to_dict()
        if final and not self._streamed:
            self._add_text(final)  # an answer Hermes did not stream (non-streaming provider)
        return "completed", None

    # -- messages --------------------------------------------------------------------------------

    async def _close_hermes_step(self, line: dict[str, Any]) -> None:
        """End the current assistant message with the tool calls Hermes is about to run."""
        content = str(line.get("content") or "")
        if content and not self._streamed:
            self._add_text(content)
        self._message_parts = [
            {
                "type": "tool_call",
                "id": str(c.get("id", "")),
                "name": str(c.get("name", "")),
                "arguments": str(c.get("arguments") or "{}"),
            }
            for c in line.get("tool_calls") or []
        ]
        message = await self._completed_message("complete")
        self._emit("message.completed", {"message": message})
        await self._flush(close=("complete", self._message_parts))

    async def _store_results(self, results: list[dict[str, Any]]) -> None:
        """The tool messages Hermes appended, in one flush; then the next step's message."""
        now = utcnow()
        rows = []
        for result in results:
            call_id = str(result.get("call_id", ""))
            output = str(result.get("content", ""))
            name = str(result.get("name", ""))
            is_error = self._finished_calls.get(call_id)
            if is_error is None:  # a call Hermes blocked gets no callbacks, only its result
                is_error = True
                self._emit(
                    "tool.finished",
                    {"call_id": call_id, "name": name, "output": output, "is_error": True},
                )
            part = {"type": "tool_result", "call_id": call_id, "name": name, "is_error": is_error}
            rows.append((output, part))

        async def insert(conn: AsyncConnection) -> None:
            if not rows:
                return
            seq = await session_store.allocate_seqs(
                conn, session_id=self.ctx.session_id, count=len(rows), now=now
            )
            for offset, (output, part) in enumerate(rows):
                await message_store.insert(
                    conn,
                    values={
                        "id": new_id(),
                        "session_id": self.ctx.session_id,
                        "seq": seq + offset,
                        "role": "tool",
                        "content": output,
                        "parts": [part],
                        "status": "complete",
                        "run_id": self.ctx.run_id,
                        "created_at": now,
                    },
                )

        await self._flush(extra=insert)
        self._finished_calls.clear()
        self._current_call = None
        await self._open_message()
        self._streamed = False

    # -- approvals ---------------------------------------------------------------------------------

    async def _ask_hermes(self, line: dict[str, Any]) -> str | None:
        """Hermes' dangerous-command guard, as a durable Hestia approval; the decision or None."""
        assert self._agent is not None
        if self.ctx.approval_policy == "never":
            return "once"  # the session's policy approves everything without asking
        pattern = str(line.get("pattern_key") or line.get("description") or "command")
        key = f"hermes:{pattern}"
        async with self._db.read() as conn:
            if await approval_store.is_granted(conn, session_id=self.ctx.session_id, key=key):
                return "session"
        call = self._current_call or ToolCall(new_id(), "terminal", "{}")
        arguments = {"command": line.get("command", "")}
        reason = str(line.get("description") or "Hermes flags this command as dangerous.")
        return await self._request_approval(
            call, key=key, arguments=json.dumps(arguments), shown=arguments, reason=reason
        )

    # -- the worker process ----------------------------------------------------------------------

    def _request(self) -> dict[str, Any]:
        history = list(self.ctx.history)
        user_message = ""
        if history and history[-1].role == "user":
            user_message = history.pop().content
        settings = self._settings
        if settings.hermes_provider == "hestia":
            provider = {
                "mode": "hestia",
                "base_url": settings.openai_base_url,
                "api_key": settings.openai_api_key,
            }
            model: str | None = self.ctx.model
        else:
            provider = {"mode": "hermes"}
            model = self.ctx.explicit_model
        assert self.ctx.workspace is not None
        self.ctx.workspace.ensure()
        return {
            "model": model,
            "provider": provider,
            "session_key": self.ctx.session_id,
            "history": to_openai_messages(history),
            "user_message": user_message,
            "workspace": str(self.ctx.workspace.root),
            "hermes_home": str(settings.effective_hermes_home),
            "task_id": self.ctx.run_id,
            "max_iterations": settings.max_steps,
        }

    async def _start_worker(self) -> None:
        request = self._request()
        self._worker = WorkerProcess(
            run_id=self.ctx.run_id,
            owner=self.ctx.owner,
            data_dir=self._settings.data_dir,
            queue=self._queue,
        )
        await self._worker.start(
            request, cwd=request["workspace"], hermes_home=request["hermes_home"]
        )

    def _send(self, message: dict[str, Any]) -> None:
        if self._worker is not None:
            self._worker.send(message)


def _for_hermes(decision: str) -> str:
    return "session" if decision == "always" else decision
