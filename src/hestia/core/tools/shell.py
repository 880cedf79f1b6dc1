"""`shell`: run a command in the workspace, with a timeout, live output and a capped result."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import time
from typing import Any

from .base import ToolContext, ToolResult
from .output import truncate

DEFAULT_TIMEOUT = 120
MAX_TIMEOUT = 600
# Keep at most this much in memory; the result shows head and tail anyway.
MAX_CAPTURE = 2_000_000
LIVE_EVERY = 0.1


class ShellTool:
    """Runs `/bin/bash -c command` in its own process group, so all of it can be stopped."""

    name = "shell"
    description = (
        "Run a bash command in the session's workspace (the current directory) and return its "
        "combined stdout and stderr, followed by the exit code. Long output is shortened in "
        "the middle. Use `timeout` (seconds, default 120, at most 600) for slow commands. "
        "Nothing reads from stdin, so avoid interactive programs."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command line, run with bash -c."},
            "timeout": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_TIMEOUT,
                "description": "Seconds before the command is killed (default 120).",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Run the command; on timeout or cancellation its whole process group is killed."""
        command = args["command"]
        timeout = args.get("timeout", DEFAULT_TIMEOUT)
        root = ctx.workspace.ensure().root
        env = {**os.environ, "PWD": str(root)}
        process = await asyncio.create_subprocess_exec(
            "/bin/bash",
            "-c",
            command,
            cwd=root,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        chunks: list[str] = []
        reader = asyncio.create_task(_collect(process, chunks, ctx))
        try:
            async with asyncio.timeout(timeout):
                code = await process.wait()
                # Background jobs may hold the pipe open; take what comes soon, then stop them.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await asyncio.shield(reader)
        except TimeoutError:
            await _stop(process, reader)
            output = truncate("".join(chunks))
            return ToolResult(
                f"{output}\n[killed after {timeout} seconds: the command did not finish]",
                is_error=True,
            )
        except BaseException:
            await asyncio.shield(_stop(process, reader))  # cancelled: leave nothing behind
            raise
        await _stop(process, reader)
        return ToolResult(f"{truncate(''.join(chunks))}\n[exit code {code}]".lstrip("\n"))


async def _collect(
    process: asyncio.subprocess.Process, chunks: list[str], ctx: ToolContext
) -> None:
    """Read the command's output to the end, passing it on live at most every LIVE_EVERY."""
    assert process.stdout is not None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    live = _LiveOutput(ctx)
    captured = 0
    try:
        while True:
            data = await process.stdout.read(65536)
            text = decoder.decode(data, final=not data)
            if text:
                if captured < MAX_CAPTURE:
                    chunks.append(text)
                    captured += len(text)
                live.add(text)
            if not data:
                return
    finally:
        live.flush()


class _LiveOutput:
    """Batches output for `ctx.on_output`: sent at once, then at most every LIVE_EVERY."""

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
        if self._sink is not None and self._pending:
            self._sink(truncate("".join(self._pending), 8_000))
            self._pending.clear()
            self._last = time.monotonic()


async def _stop(process: asyncio.subprocess.Process, reader: asyncio.Task[None]) -> None:
    """Kill the command's process group and wait for it and for the output reader."""
    _kill_group(process)
    await process.wait()
    await asyncio.gather(reader, return_exceptions=True)


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
