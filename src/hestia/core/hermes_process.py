"""The Hermes worker as a process: spawn, JSON lines both ways, stop, and orphan clean-up.

Each worker runs in its own process group (one kill ends it and the tools it started) and is
recorded on disk with its pid and owner, so a start-up after a crash can kill one that outlived
its owner (`reap_orphan_workers`) — normally the worker already left by itself at the end of
its stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from .owner import Owner

log = logging.getLogger(__name__)

WORKER_MODULE = "hestia.runtimes.hermes_worker"
STDERR_LINES = 20
LINE_LIMIT = 64 * 1024 * 1024  # one protocol line may carry a large tool output
STOP_WAIT = 0.5  # seconds a finished worker gets to leave before its group is killed
EXITED = object()  # queued after the worker's last line


def records_dir(data_dir: Path) -> Path:
    """Where running workers are recorded."""
    return data_dir / "hermes-workers"


class WorkerProcess:
    """One worker: its lines go to `queue` (dicts, then `EXITED`); its stderr tail is kept."""

    def __init__(self, *, run_id: str, owner: str, data_dir: Path, queue: asyncio.Queue) -> None:
        self.run_id = run_id
        self.owner = owner
        self._record = records_dir(data_dir) / f"{run_id}.json"
        self._queue = queue
        self._process: asyncio.subprocess.Process | None = None
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._readers: list[asyncio.Task[None]] = []

    async def start(self, request: dict[str, Any], *, cwd: str, hermes_home: str) -> None:
        """Spawn the worker, record it, send it the request; raises OSError if it cannot."""
        # Hestia's own settings (keys, password, database URL) stay out of the agent's reach:
        # its terminal tool could print them. Hermes' keys come from HERMES_HOME/.env.
        env = {k: v for k, v in os.environ.items() if not k.startswith("HESTIA_")}
        env.update(PYTHONUNBUFFERED="1", HERMES_HOME=hermes_home)
        self._process = process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER_MODULE,
            "--run",
            self.run_id,  # so an operator (and the reaper) can tell which run it serves
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group: one kill ends it and its tools
            limit=LINE_LIMIT,
        )
        log.info("run %s: Hermes worker pid %s", self.run_id, process.pid)
        self._write_record(process.pid)
        self._readers = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]
        self.send(request)

    def send(self, message: dict[str, Any]) -> None:
        """One line to the worker's stdin (dropped if the worker is gone)."""
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            process.stdin.write(orjson.dumps(message) + b"\n")

    def crash_report(self) -> str:
        """The exit status and the last stderr lines, for a run that ends because of them."""
        code = self._process.returncode if self._process is not None else None
        tail = "\n".join(self._stderr) or "(no output on stderr)"
        return (
            f"The Hermes worker stopped (exit status {code}) before finishing the run. "
            f"Its last lines:\n{tail}"
        )

    async def stop(self) -> None:
        """End the worker's process group, whatever state the run ended in."""
        process = self._process
        if process is not None:
            if process.stdin is not None and not process.stdin.is_closing():
                process.stdin.close()  # a finished worker leaves at the end of its input
            if process.returncode is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(process.wait(), timeout=STOP_WAIT)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # its tools too, even after it exited
            if process.returncode is None:
                await process.wait()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        self._record.unlink(missing_ok=True)

    def _write_record(self, pid: int) -> None:
        try:
            self._record.parent.mkdir(mode=0o700, exist_ok=True)
            record = {"pid": pid, "run_id": self.run_id, "owner": self.owner}
            self._record.write_text(json.dumps(record))
        except OSError:
            log.warning("run %s: could not record its Hermes worker", self.run_id)

    async def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stream = self._process.stdout
        try:
            while line := await stream.readline():
                try:
                    item = json.loads(line)
                except ValueError:
                    self._stderr.append(line.decode(errors="replace").rstrip())
                    continue
                if isinstance(item, dict):
                    self._queue.put_nowait(item)
        except (ValueError, asyncio.LimitOverrunError):
            self._stderr.append("(a protocol line was longer than the limit)")
        await self._process.wait()
        self._queue.put_nowait(EXITED)

    async def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        stream = self._process.stderr
        with contextlib.suppress(ValueError, asyncio.LimitOverrunError):
            while line := await stream.readline():
                text = line.decode(errors="replace").rstrip()
                if text:
                    self._stderr.append(text)


def reap_orphan_workers(data_dir: Path, owner: Owner) -> int:
    """Kill the workers a dead owner left behind (recorded with their pid); how many.

    A worker leaves by itself when its owner dies (end of stdin), so this is the second line of
    defence, run at start-up: only a worker whose recorded owner is certainly dead, and only a
    process that still is that worker (its command line names the run), is killed.
    """
    killed = 0
    folder = records_dir(data_dir)
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
