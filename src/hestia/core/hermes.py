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

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson
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
from .owner import Owner

log = logging.getLogger(__name__)

WORKER_MODULE = "hestia.runtimes.hermes_worker"
STDERR_LINES = 20
LINE_LIMIT = 64 * 1024 * 1024  # one protocol line may carry a large tool output
_EXITED = object()


def _records_dir(data_dir: Path) -> Path:
    return data_dir / "hermes-workers"


def reap_orphan_workers(data_dir: Path, owner: Owner) -> int:
    """Kill the workers a dead owner left behind (recorded with their pid); how many.

    A worker leaves by itself when its owner dies (end of stdin), so this is the second line of
    defence, run at start-up: only a worker whose recorded owner is certainly dead, and only a
    process that still is that worker (its command line names the run), is killed.
    """
    killed = 0
    folder = _records_dir(data_dir)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
            pid, run_id, recorded_owner = record["pid"], record["run_id"], record["owner"]
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if not owner.sees_dead(recorded_owner):
            continue  # a live process on this host (or another host) still owns it
        if _is_worker(pid, run_id):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
                killed += 1
                log.warning("run %s: killed orphan Hermes worker pid %s", run_id, pid)
        path.unlink(missing_ok=True)
    return killed


def _is_worker(pid: int, run_id: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return WORKER_MODULE.encode() in cmdline and run_id.encode() in cmdline


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
        self._process: asyncio.subprocess.Process | None = None
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._streamed = False  # the current message received text
        self._current_call: ToolCall | None = None
        self._finished_calls: set[str] = set()

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
        assert self._process is not None
        readers = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]
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
                item = await self._next_line(deadline)
                if item is None:
                    await self._flush()
                    continue
                if item is _EXITED:
                    if self._stop_reason is not None:
                        return self._stop_reason, None
                    return "failed", self._crash_error()
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
            await self._stop_worker()
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

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

    async def _next_line(self, deadline: float | None) -> object | None:
        """The next worker line, or None when the flush deadline (or the cancel grace) passes."""
        limits = []
        if self._pending:
            limits.append(self._last_flush + self._flush_interval)
        if deadline is not None:
            limits.append(deadline)
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
            self._finished_calls.add(str(line.get("call_id", "")))
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
            if call_id not in self._finished_calls:  # blocked calls get no callbacks
                self._emit(
                    "tool.finished",
                    {"call_id": call_id, "name": name, "output": output, "is_error": True},
                )
            part = {"type": "tool_result", "call_id": call_id, "name": name, "is_error": False}
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
                    "arguments": json.dumps(arguments),
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
                "arguments": arguments,
                "reason": reason,
            },
            publish=False,
        )
        await self._flush(extra=insert)
        self._publish_flushed()
        decision = await self._agent.approvals.wait(approval_id, self._stopped)
        if decision is None:
            return None
        self._emit("approval.resolved", {"approval_id": approval_id, "decision": decision})
        await self._flush()
        return decision

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
        # Hestia's own settings (keys, password, database URL) stay out of the agent's reach:
        # its terminal tool could print them. Hermes' keys come from HERMES_HOME/.env.
        env = {k: v for k, v in os.environ.items() if not k.startswith("HESTIA_")}
        env.update(PYTHONUNBUFFERED="1", HERMES_HOME=request["hermes_home"])
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER_MODULE,
            "--run",
            self.ctx.run_id,  # so an operator (and the tests) can tell which run it serves
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=request["workspace"],
            start_new_session=True,  # its own process group: one kill ends it and its tools
            limit=LINE_LIMIT,
        )
        log.info("run %s: Hermes worker pid %s", self.ctx.run_id, self._process.pid)
        self._record_worker(self._process.pid)
        self._send(request)

    def _record_worker(self, pid: int) -> None:
        """Remember the worker on disk, for `reap_orphan_workers` after a crash."""
        folder = _records_dir(self._settings.data_dir)
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            record = {"pid": pid, "run_id": self.ctx.run_id, "owner": self.ctx.owner}
            (folder / f"{self.ctx.run_id}.json").write_text(json.dumps(record))
        except OSError:
            log.warning("run %s: could not record its Hermes worker", self.ctx.run_id)

    def _send(self, message: dict[str, Any]) -> None:
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            process.stdin.write(orjson.dumps(message) + b"\n")

    async def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stream = self._process.stdout
        queue = self._queue
        try:
            while line := await stream.readline():
                try:
                    item = json.loads(line)
                except ValueError:
                    self._stderr.append(line.decode(errors="replace").rstrip())
                    continue
                if isinstance(item, dict):
                    queue.put_nowait(item)
        except (ValueError, asyncio.LimitOverrunError):
            self._stderr.append("(a protocol line was longer than the limit)")
        await self._process.wait()
        queue.put_nowait(_EXITED)

    async def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        stream = self._process.stderr
        with contextlib.suppress(ValueError, asyncio.LimitOverrunError):
            while line := await stream.readline():
                text = line.decode(errors="replace").rstrip()
                if text:
                    self._stderr.append(text)

    def _crash_error(self) -> dict[str, str]:
        code = self._process.returncode if self._process is not None else None
        tail = "\n".join(self._stderr) or "(no output on stderr)"
        return HermesError(
            f"The Hermes worker stopped (exit status {code}) before finishing the run. "
            f"Its last lines:\n{tail}"
        ).to_dict()

    async def _stop_worker(self) -> None:
        """End the worker's process group, whatever state the run ended in."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()  # a finished worker leaves at the end of its input
        if process.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), timeout=0.5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # its tools too, even after it exited
        if process.returncode is None:
            await process.wait()
        (_records_dir(self._settings.data_dir) / f"{self.ctx.run_id}.json").unlink(missing_ok=True)


def _for_hermes(decision: str) -> str:
    return "session" if decision == "always" else decision
