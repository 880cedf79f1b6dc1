"""The benchmarks. Each takes a `Context` and returns its figures; problems go to `ctx.errors`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .client import (
    Stream,
    added_gaps,
    direct_stream,
    directive,
    expected_text,
    latencies,
    median,
    ms,
    new_session,
    pct,
    read_sse,
    run_through_hestia,
    stamped_ok,
)
from .harness import Provider, Server, cpu_seconds, pg_fetch, rss_bytes, write_bytes


@dataclass(frozen=True)
class Profile:
    name: str
    relay_runs: int
    relay_tokens: int
    relay_rate: float
    fanin_runs: int
    fanin_tokens: int
    fanin_rate: float
    seed_sessions: int
    seed_messages: int
    seed_big_session: int
    queries: int
    durability_runs: int
    durability_tokens: int
    durability_rate: float
    resume_events: int
    resume_tries: int


QUICK = Profile("quick", 5, 500, 1000, 20, 60, 50, 300, 30_000, 2_000, 15, 2, 300, 500, 1_000, 10)
FULL = Profile(
    "full", 20, 500, 1000, 200, 300, 50, 10_000, 1_000_000, 10_000, 50, 4, 1_000, 200, 5_000, 30
)


@dataclass
class Context:
    profile: Profile
    backend: str
    provider: Provider
    server: Server
    client: httpx.AsyncClient
    work_dir: Path
    database_name: str = ""
    idle_rss: int = 0
    errors: list[str] = field(default_factory=list)
    log: Any = print

    def check_stream(self, what: str, stream: Stream, tokens: int, stamped: bool = False) -> None:
        """Record an error unless the run completed with exactly the text streamed (I4)."""
        if stream.error:
            self.errors.append(f"{what}: {stream.error}")
        elif stream.terminal != "run.completed":
            self.errors.append(f"{what}: ended with {stream.terminal}")
        elif stamped:
            if not stamped_ok(stream, tokens):
                self.errors.append(f"{what}: lost or reordered tokens")
        elif "".join(stream.text) != expected_text(tokens):
            got = len("".join(stream.text))
            self.errors.append(f"{what}: lost tokens ({got} of {len(expected_text(tokens))} chars)")


def _script(tokens: int, rate: float, stamp: bool = False) -> str:
    if stamp:
        return directive("bench", tokens=tokens, delay=1 / rate, stamp=True)
    return directive("bench", tokens=tokens, delay=1 / rate)


async def warm_up(ctx: Context) -> None:
    """One short run, so that what loads lazily has loaded."""
    session_id = await new_session(ctx.client)
    _, stream = await run_through_hestia(ctx.client, session_id, _script(5, 1000))
    ctx.check_stream("warm-up", stream, 5)
    await asyncio.sleep(0.5)


# --------------------------------------------------------------------------- relay


async def relay(ctx: Context) -> dict[str, Any]:
    """TTFT and last token through Hestia vs straight from the provider.

    TTFT is compared directly (both clocks start at the request). For the last token the
    provider's own pace would swamp the difference on a busy machine, so each token carries
    the time it was sent: added last = added TTFT + (how late the last token arrived through
    Hestia - how late it arrived straight from the provider).
    """
    p = ctx.profile
    content = _script(p.relay_tokens, p.relay_rate, stamp=True)
    direct_first, direct_total, direct_late, hestia_first, hestia_late = [], [], [], [], []
    async with httpx.AsyncClient() as raw:
        for i in range(p.relay_runs + 1):  # the first pair warms both paths up
            direct = await direct_stream(raw, ctx.provider.url, content)
            session_id = await new_session(ctx.client)
            _, through = await run_through_hestia(ctx.client, session_id, content)
            ctx.check_stream("relay", through, p.relay_tokens, stamped=True)
            if not stamped_ok(direct, p.relay_tokens) or not through.delta_times:
                ctx.errors.append(f"relay: tokens missing ({direct.error})")
                continue
            if i == 0:
                continue
            direct_first.append(direct.delta_times[0] - direct.started)
            direct_total.append(direct.delta_times[-1] - direct.started)
            direct_late.append(latencies(direct)[-1])
            hestia_first.append(through.delta_times[0] - through.started)
            hestia_late.append(latencies(through)[-1])
    added_first = (median(hestia_first) or 0) - (median(direct_first) or 0)
    added_last = added_first + (median(hestia_late) or 0) - (median(direct_late) or 0)
    return {
        "runs": len(hestia_first),
        "tokens": p.relay_tokens,
        "tok_per_s": p.relay_rate,
        "direct_first_ms_p50": ms(median(direct_first)),
        "hestia_first_ms_p50": ms(median(hestia_first)),
        "hestia_first_ms_p99": ms(pct(hestia_first, 99)),
        "added_first_ms_p50": ms(added_first),
        "direct_total_ms_p50": ms(median(direct_total)),
        "direct_last_late_ms_p50": ms(median(direct_late)),
        "hestia_last_late_ms_p50": ms(median(hestia_late)),
        "hestia_last_late_ms_p99": ms(pct(hestia_late, 99)),
        "added_last_ms_p50": ms(added_last),
        "added_last_pct": round(100 * added_last / (median(direct_total) or 1), 2),
    }


# --------------------------------------------------------------------------- fan-in + memory


async def fanin(ctx: Context) -> dict[str, Any]:
    """N concurrent runs in N sessions, one SSE reader each; gaps, errors, CPU, memory."""
    p = ctx.profile
    content = _script(p.fanin_tokens, p.fanin_rate, stamp=True)
    limits = httpx.Limits(max_connections=p.fanin_runs + 20, max_keepalive_connections=50)
    async with httpx.AsyncClient(limits=limits) as raw:
        direct = await asyncio.gather(
            *(direct_stream(raw, ctx.provider.url, content) for _ in range(p.fanin_runs))
        )
    for s in direct:
        if s.error or not stamped_ok(s, p.fanin_tokens):
            ctx.errors.append(f"fan-in direct: {s.error or 'short stream'}")
    direct_gaps = [g for s in direct for g in added_gaps(s)]

    async with httpx.AsyncClient(base_url=ctx.server.url, limits=limits, timeout=120) as client:
        sessions = [await new_session(client, f"fan-in {i}") for i in range(p.fanin_runs)]
        peak = rss_bytes(ctx.server.pid)
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_bytes(ctx.server.pid))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 0.1)

        sampler = asyncio.create_task(sample())
        cpu0 = cpu_seconds(ctx.server.pid)
        began = time.perf_counter()
        results = await asyncio.gather(
            *(run_through_hestia(client, s, content) for s in sessions), return_exceptions=True
        )
        wall = time.perf_counter() - began
        cpu1 = cpu_seconds(ctx.server.pid)
        done.set()
        await sampler
    streams: list[Stream] = []
    for result in results:
        if isinstance(result, BaseException):
            ctx.errors.append(f"fan-in: {type(result).__name__}: {result}")
            continue
        _, stream = result
        ctx.check_stream("fan-in", stream, p.fanin_tokens, stamped=True)
        streams.append(stream)
    ok = [s for s in streams if stamped_ok(s, p.fanin_tokens)]
    hestia_gaps = [g for s in ok for g in added_gaps(s)]
    late = [t for s in ok for t in latencies(s)]
    tokens = p.fanin_tokens * len(ok)
    return {
        "runs": p.fanin_runs,
        "tokens_each": p.fanin_tokens,
        "tok_per_s": p.fanin_rate,
        "errors": sum(1 for e in ctx.errors if e.startswith("fan-in")),
        "wall_s": round(wall, 2),
        "nominal_s": round(p.fanin_tokens / p.fanin_rate, 2),
        # Gap at the reader minus gap at the provider, per token; "direct" is the harness's
        # own floor (the same readers straight on the provider).
        "direct_added_gap_ms_p50": ms(median(direct_gaps)),
        "direct_added_gap_ms_p99": ms(pct(direct_gaps, 99)),
        "added_gap_ms_p50": ms(median(hestia_gaps)),
        "added_gap_ms_p99": ms(pct(hestia_gaps, 99)),
        "token_late_ms_p50": ms(median(late)),
        "token_late_ms_p99": ms(pct(late, 99)),
        "server_cpu_s": round(cpu1 - cpu0, 2),
        "cpu_s_per_1k_tokens": round((cpu1 - cpu0) / max(tokens, 1) * 1000, 4),
        "rss_idle_mb": round(ctx.idle_rss / 2**20, 1),
        "rss_peak_mb": round(peak / 2**20, 1),
        "rss_per_stream_mb": round((peak - ctx.idle_rss) / 2**20 / p.fanin_runs, 3),
    }


# --------------------------------------------------------------------------- durability


class Strace:
    """`strace -c -f` on some processes, counting sync calls until stopped."""

    CALLS = "fsync,fdatasync,sync_file_range,msync,sync,syncfs"

    def __init__(self, pids: list[int], out: Path) -> None:
        self.out = out
        self.process: subprocess.Popen[bytes] | None = None
        if not pids or not _which("strace"):
            return
        args = ["strace", "-c", "-f", "-e", f"trace={self.CALLS}", "-o", str(out)]
        for pid in pids:
            args += ["-p", str(pid)]
        self.process = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # let it attach

    def stop(self) -> dict[str, int] | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=20)
        if not self.out.exists():  # could not attach (ptrace not allowed here)
            return None
        counts: dict[str, int] = {}
        for line in self.out.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[-1] in self.CALLS.split(",") and parts[3].isdigit():
                counts[parts[-1]] = int(parts[3])
        return counts


def _which(name: str) -> bool:
    return any(Path(d, name).exists() for d in os.environ.get("PATH", "").split(os.pathsep))


async def _pg_backends(name: str) -> list[int]:
    rows = await pg_fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
    return [int(r[0]) for r in rows]


async def _pg_stats(name: str) -> tuple[int, int]:
    commits = await pg_fetch("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", name)
    wal = await pg_fetch("SELECT wal_bytes FROM pg_stat_wal")
    return int(commits[0][0]), int(wal[0][0])


def _written(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += write_bytes(pid)
    return total


async def durability(ctx: Context) -> dict[str, Any]:
    """Bytes written to storage per KB of text streamed, and sync calls per run."""
    p = ctx.profile
    content = _script(p.durability_tokens, p.durability_rate)
    await run_through_hestia(ctx.client, await new_session(ctx.client), content)  # warm-up
    pids = [ctx.server.pid]
    if ctx.backend == "postgres":
        pids += await _pg_backends(ctx.database_name)
        commits0, wal0 = await _pg_stats(ctx.database_name)
    written0 = _written(pids)
    tracer = Strace(pids, ctx.work_dir / "strace.txt")
    text_bytes = 0
    for _ in range(p.durability_runs):
        session_id = await new_session(ctx.client)
        _, stream = await run_through_hestia(ctx.client, session_id, content)
        ctx.check_stream("durability", stream, p.durability_tokens)
        text_bytes += len("".join(stream.text).encode())
    syncs = tracer.stop()
    written = _written(pids) - written0
    result: dict[str, Any] = {
        "runs": p.durability_runs,
        "tokens_each": p.durability_tokens,
        "tok_per_s": p.durability_rate,
        "text_kb": round(text_bytes / 1024, 1),
        "written_kb": round(written / 1024, 1),
        "bytes_per_kb_streamed": round(written / max(text_bytes / 1024, 1e-9)),
        "ratio_to_text": round(written / max(text_bytes, 1), 2),
        "syncs_per_run": None
        if syncs is None
        else round(sum(syncs.values()) / p.durability_runs, 1),
        "sync_calls": syncs,
        "measured_pids": len(pids),
    }
    if ctx.backend == "postgres":
        commits1, wal1 = await _pg_stats(ctx.database_name)
        result["commits_per_run"] = round((commits1 - commits0) / p.durability_runs, 1)
        result["cluster_wal_kb"] = round((wal1 - wal0) / 1024, 1)  # includes other users
        # Steadier than the backends' write_bytes, which also get whatever WAL of the shared
        # cluster a synchronous commit happens to write, and new WAL segments' zeroes.
        result["cluster_wal_ratio"] = round((wal1 - wal0) / max(text_bytes, 1), 2)
    return result


# --------------------------------------------------------------------------- resume


async def resume(ctx: Context) -> dict[str, Any]:
    """Reconnect with Last-Event-ID into a long finished run: time to the first replayed event."""
    p = ctx.profile
    tokens = p.resume_events - 3  # run.started, message.completed, run.completed
    session_id = await new_session(ctx.client)
    run, stream = await run_through_hestia(ctx.client, session_id, directive("long", tokens=tokens))
    ctx.check_stream("resume", stream, tokens)
    if stream.ids != list(range(1, p.resume_events + 1)):
        ctx.errors.append(f"resume: event ids are not 1..{p.resume_events}")
    rng = random.Random(3)
    firsts: list[float] = []
    for _ in range(p.resume_tries):
        last = rng.randrange(1, p.resume_events - 10)
        began = time.perf_counter()
        replay = await read_sse(
            ctx.client,
            f"/api/runs/{run['id']}/events",
            headers={"Last-Event-ID": str(last)},
            started=began,
            stop_after=1,
        )
        if replay.error or replay.ids[:1] != [last + 1] or replay.first_event is None:
            ctx.errors.append(f"resume: after {last} got {replay.ids[:1]} {replay.error or ''}")
            continue
        firsts.append(replay.first_event - began)
    return {
        "events": p.resume_events,
        "tries": len(firsts),
        "first_replayed_ms_p50": ms(median(firsts)),
        "first_replayed_ms_p99": ms(pct(firsts, 99)),
    }
