"""Processes under test: the fake provider, `hestia serve`, databases; and /proc readings."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "HESTIA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- /proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (/proc/PID/statm)."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


def write_bytes(pid: int) -> int:
    """Bytes the process caused to be written to storage (/proc/PID/io `write_bytes`)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


# --------------------------------------------------------------------------- processes


def _python_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESTIA_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url}: process exited early:\n{log.read_text()[-3000:]}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@dataclass
class Provider:
    """The fake OpenAI-compatible provider (tests/fake_provider.py) in its own process."""

    work_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Provider:
        log = self.work_dir / "provider.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.provider", "--port", str(self.port)],
                env=_python_env({}),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_http(f"{self.url}/v1/models", self.process, 20, log)
        return self

    def stop(self) -> None:
        _stop(self.process)


@dataclass
class Server:
    """One `hestia serve` process on 127.0.0.1 talking to the fake provider."""

    data_dir: Path
    provider: Provider
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    started_in: float = 0.0  # seconds from spawn to the first 200 from /health

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> Server:
        env = {
            "HESTIA_OPENAI_BASE_URL": f"{self.provider.url}/v1",
            "HESTIA_OPENAI_API_KEY": "bench-key",
            "HESTIA_MODEL": "fake-model",
            "HESTIA_PROVIDER_TIMEOUT": "60",
        }
        if self.database_url:
            env["HESTIA_DATABASE_URL"] = self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        began = time.perf_counter()
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hestia", "serve", "--port", str(self.port)]
                + ["--data-dir", str(self.data_dir)],
                env=_python_env(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_http(f"{self.url}/health", self.process, timeout, self.log_path)
        self.started_in = time.perf_counter() - began
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        _stop(self.process)


# --------------------------------------------------------------------------- databases


async def pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def pg_fetch(statement: str, *args: object) -> list[tuple[object, ...]]:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        return [tuple(r) for r in await conn.fetch(statement, *args)]
    finally:
        await conn.close()


def pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


@dataclass
class Backend:
    """A fresh database for one benchmark: a SQLite file, or a PostgreSQL database (dropped)."""

    kind: str  # sqlite | postgres
    work_dir: Path
    name: str = ""

    async def create(self, *, template: str | None = None) -> str | None:
        """Make the database; the HESTIA_DATABASE_URL to use (None: SQLite in the data dir)."""
        if self.kind == "sqlite":
            return None
        self.name = f"hestia_bench_{uuid.uuid4().hex[:10]}"
        suffix = f' TEMPLATE "{template}"' if template else ""
        await pg_admin(f'CREATE DATABASE "{self.name}"{suffix}')
        return pg_url(self.name)

    async def drop(self) -> None:
        if self.kind == "postgres" and self.name:
            await pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.name = ""


async def backend_available(kind: str) -> bool:
    if kind == "sqlite":
        return True
    try:
        await pg_admin("SELECT 1")
        return True
    except Exception:
        return False


def work_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="hestia-bench-"))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
