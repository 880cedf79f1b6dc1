"""A real `hestia serve` process for tests: start, stop, `kill -9`, restart; and an SSE reader."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Event:
    """One Server-Sent Event as received."""

    id: int | None
    type: str
    data: dict[str, Any]


@dataclass
class HestiaServer:
    """One `hestia serve` subprocess on 127.0.0.1 with its own data dir."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> HestiaServer:
        """Start the process and wait until `/health` answers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HESTIA_")}
        env.update(self.env)
        self.log_path = self.data_dir.parent / f"server-{self.port}-{time.monotonic_ns()}.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hestia",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hestia serve exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"hestia serve did not come up:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill9(self) -> None:
        """`kill -9` the server: no shutdown code runs."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), or kill if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def restart(self) -> HestiaServer:
        """Start again on the same port and data dir (after `kill9` or `stop`)."""
        return self.start()

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 30), **kwargs)


def parse_sse(lines: Iterator[str]) -> Iterator[Event | str]:
    """Events from SSE lines; comment lines come out as their text (keep-alives)."""
    event_id: int | None = None
    event_type = "message"
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield Event(event_id, event_type, json.loads("\n".join(data)))
            event_id, event_type, data = None, "message", []
        elif line.startswith(":"):
            yield line
        elif line.startswith("id:"):
            event_id = int(line[3:].strip())
        elif line.startswith("event:"):
            event_type = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))


def read_events(
    client: httpx.Client,
    run_id: str,
    *,
    last_event_id: int | None = None,
    after: int | None = None,
    stop_after: int | None = None,
    until: str | None = None,
    match: str | None = None,
    timeout: float = 30,
) -> list[Event]:
    """Follow a run's SSE stream until it closes — or disconnect after `stop_after` events, or
    at the first event of type `until` (whose data JSON contains `match`, if given)."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    params = {} if after is None else {"after": str(after)}
    events: list[Event] = []
    with client.stream(
        "GET", f"/api/runs/{run_id}/events", headers=headers, params=params, timeout=timeout
    ) as response:
        assert response.status_code == 200, response.read()
        for item in parse_sse(response.iter_lines()):
            if isinstance(item, Event):
                events.append(item)
                if stop_after is not None and len(events) >= stop_after:
                    break
                if until is not None and item.type == until:
                    if match is None or match in json.dumps(item.data):
                        break
    return events


def wait_for_run(client: httpx.Client, run_id: str, timeout: float = 30) -> dict[str, Any]:
    """Poll until the run reaches a terminal status; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in ("completed", "failed", "cancelled", "interrupted"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {run}")
