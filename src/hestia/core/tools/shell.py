"""`shell`: run a command in the workspace, with a timeout, live output and a capped result.

The command runs as `/bin/bash -c` in a new session (its own process group). Whatever way the
tool ends — the command finishes, times out, or the run is cancelled — the whole group is
killed, so background jobs (`sleep 1000 &`) never outlive the call.

It uses a `SubprocessProtocol` rather than `Process.wait()`: `wait()` only returns once the
output pipe is closed too, and a background job that inherited the pipe keeps it open, so a
finished command would look like one that hangs until its timeout.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections import deque
from typing import Any

from .base import ToolContext, ToolResult
from .output import MAX_OUTPUT

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120
MAX_TIMEOUT = 600
LIVE_EVERY = 0.1
# After the command exits, how long background jobs may keep writing before they are killed.
EXIT_GRACE = 0.5
# How long to wait for a killed group to let go of the pipe before closing it ourselves.
KILL_GRACE = 1.0
# At most this much of one live batch is passed on (the final result has the full head/tail).
MAX_LIVE_CHUNK = 8_000


class ShellTool:
    """`shell {command, timeout?}`."""

    name = "shell"
    description = (
        "Run a bash command in the session's workspace (the current directory) and return its "
        "combined stdout and stderr, then a last line `[exit code N]`. A non-zero exit code is "
        "reported, not treated as a failure. Output over 30,000 characters is shortened in the "
        "middle. `timeout` is in seconds (default 120, at most 600); when it runs out the "
        "command and everything it started are killed. stdin is empty, so interactive "
        "programs will not work; background jobs are stopped when the command ends."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command line, run with bash -c."},
            "timeout": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_TIMEOUT,
                "description": "Seconds before the command is killed (default 120, max 600).",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Run the command; on timeout or cancellation its whole process group is killed."""
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            return ToolResult("`command` must be a non-empty string.", is_error=True)
        timeout = _timeout(args.get("timeout", DEFAULT_TIMEOUT))
        if timeout is None:
            return ToolResult(
                f"`timeout` must be a whole number of seconds from 1 to {MAX_TIMEOUT}.",
                is_error=True,
            )
        root = ctx.workspace.ensure().root
        loop = asyncio.get_running_loop()
        capture = _Capture(MAX_OUTPUT)
        live = _LiveOutput(ctx)
        transport, protocol = await loop.subprocess_exec(
            lambda: _Protocol(loop, capture, live),
            "/bin/bash",
            "-c",
            command,
            cwd=root,
            env=_environment(root),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so all of it can be killed
        )
        timed_out = False
        try:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(protocol.exited)
            except TimeoutError:
                timed_out = True
            else:
                # Background jobs may still hold the pipe: take what they write soon, then stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(EXIT_GRACE):
                        await asyncio.shield(protocol.closed)
        finally:
            # Also on cancellation: kill first (synchronously), then tidy up shielded.
            _kill_group(transport.get_pid())
            await asyncio.shield(_reap(transport, protocol))
            live.flush()
        output = capture.text()
        if timed_out:
            note = f"[killed after {timeout} seconds: the command did not finish]"
            return ToolResult(_join(output, note), is_error=True)
        return ToolResult(_join(output or "(no output)", _status(transport.get_returncode())))


def _timeout(value: Any) -> int | None:
    """The timeout as whole seconds within the limits, or None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) if 1 <= value <= MAX_TIMEOUT else None


def _environment(root: os.PathLike[str]) -> dict[str, str]:
    """The server's environment for the command, minus Hestia's own settings.

    HESTIA_* holds the server's password, API keys and database URL: nothing a command needs,
    and everything a command prints goes to the model provider.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESTIA_")}
    env["PWD"] = os.fspath(root)
    # No terminal to answer a credentials prompt: make git fail at once instead of waiting.
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    return env


def _join(output: str, last_line: str) -> str:
    return f"{output}{'' if output.endswith(chr(10)) else chr(10)}{last_line}"


def _status(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"[killed by {name}]"
    return f"[exit code {code}]"


class _Protocol(asyncio.SubprocessProtocol):
    """Collects the merged output and tells when the command exited and the pipe closed."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, capture: _Capture, live: _LiveOutput
    ) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._capture = capture
        self._live = live
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self._add(self._decoder.decode(data))

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        # Called once the process exited and every pipe is closed.
        self._add(self._decoder.decode(b"", final=True))
        self.process_exited()
        if not self.closed.done():
            self.closed.set_result(None)

    def _add(self, text: str) -> None:
        if text:
            self._capture.add(text)
            self._live.add(text)


class _Capture:
    """Keeps the head and the tail of the output (within `limit`) and counts the rest."""

    def __init__(self, limit: int) -> None:
        self._head_max = limit * 2 // 3
        self._tail_max = limit - self._head_max
        self._head: list[str] = []
        self._head_len = 0
        self._tail: deque[str] = deque()
        self._tail_len = 0
        self.total = 0

    def add(self, text: str) -> None:
        self.total += len(text)
        if self._head_len < self._head_max:
            part = text[: self._head_max - self._head_len]
            self._head.append(part)
            self._head_len += len(part)
            text = text[len(part) :]
        if text:
            self._tail.append(text)
            self._tail_len += len(text)
            # Drop whole old pieces while what is left still fills the tail.
            while self._tail_len - len(self._tail[0]) >= self._tail_max:
                self._tail_len -= len(self._tail.popleft())

    def text(self) -> str:
        head, tail = "".join(self._head), "".join(self._tail)
        if self.total <= self._head_max + self._tail_max:
            return head + tail
        tail = tail[-self._tail_max :]
        omitted = self.total - len(head) - len(tail)
        return f"{head}\n[… {omitted:,} characters omitted …]\n{tail}"


class _LiveOutput:
    """Batches output for `ctx.on_output`: the first piece at once, then at most every 100 ms."""

    def __init__(self, ctx: ToolContext) -> None:
        self._sink = ctx.on_output
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._last = 0.0

    def add(self, text: str) -> None:
        if self._sink is None:
            return
        self._pending.append(text)
        wait = self._last + LIVE_EVERY - time.monotonic()
        if wait <= 0:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._sink is None or not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._last = time.monotonic()
        if len(text) > MAX_LIVE_CHUNK:
            text = f"{text[:MAX_LIVE_CHUNK]}\n[… {len(text) - MAX_LIVE_CHUNK:,} characters …]\n"
        try:
            self._sink(text)
        except Exception:  # a broken viewer must not break the command
            log.exception("live output callback failed; no more live output for this call")
            self._sink = None


async def _reap(transport: asyncio.SubprocessTransport, protocol: _Protocol) -> None:
    """Wait for the killed command to exit and the pipe to close, then close the transport."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(KILL_GRACE):
            await asyncio.shield(protocol.exited)
            # A process that left the group (setsid) may hold the pipe; closing below frees us.
            await asyncio.shield(protocol.closed)
    transport.close()


def _kill_group(pid: int | None) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
