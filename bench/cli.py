"""`python -m bench --quick|--full [--only NAME] [--backend sqlite|postgres|both]`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from . import bigdata, cases, seed
from .harness import ROOT, Backend, Provider, Server, backend_available, remove, rss_bytes, work_dir

RESULTS_DIR = ROOT / "bench" / "results"
NAMES = ("relay", "fanin", "bigdata", "durability", "resume", "memory")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "commit": commit + ("+dirty" if dirty else ""),
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1),
        "python": platform.python_version(),
        "load_before": os.getloadavg(),
    }


def start_profiler(pid: int, name: str) -> subprocess.Popen[bytes] | None:
    """`py-spy record` on the server (collapsed stacks under bench/results/), if asked for."""
    if not PROFILE:
        return None
    out = RESULTS_DIR / f"profile-{name}-{datetime.now(UTC).strftime('%H%M%S')}.txt"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log(f"profiling into {out.relative_to(ROOT)}")
    return subprocess.Popen(
        [_py_spy(), "record", "-p", str(pid), "-f", "raw", "-r", "200", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _py_spy() -> str:
    # Beside this Python (a venv that is not activated), else on PATH.
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy") or "py-spy"


def stop_profiler(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


PROFILE = False


async def run_backend(
    kind: str, profile: cases.Profile, only: set[str], provider: Provider, base: Path
) -> tuple[dict[str, Any], list[str]]:
    """Every selected benchmark against one backend; (figures, errors)."""
    results: dict[str, Any] = {}
    errors: list[str] = []
    live = only & {"relay", "fanin", "durability", "resume", "memory"}
    if live:
        backend = Backend(kind, base)
        url = await backend.create()
        server = Server(base / f"{kind}-live" / "data", provider, url)
        try:
            server.start()
            async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
                ctx = cases.Context(profile, kind, provider, server, client, base, backend.name)
                # Idle means after one small run: the provider SDK loads once the server is up.
                await cases.warm_up(ctx)
                ctx.idle_rss = rss_bytes(server.pid)
                steps = [
                    ("durability", cases.durability),
                    ("relay", cases.relay),
                    ("resume", cases.resume),
                ]
                for name, func in steps:
                    if name in only:
                        log(f"{kind}: {name}")
                        profiler = start_profiler(server.pid, f"{name}-{kind}")
                        results[name] = await func(ctx)
                        stop_profiler(profiler)
                if only & {"fanin", "memory"}:
                    log(f"{kind}: fan-in + memory ({profile.fanin_runs} streams)")
                    profiler = start_profiler(server.pid, f"fanin-{kind}")
                    results["fanin"] = await cases.fanin(ctx)
                    stop_profiler(profiler)
                errors += ctx.errors
            if "Traceback" in server.log():
                errors.append(f"{kind}: the server log holds a traceback")
        finally:
            server.stop()
            await backend.drop()
    if "bigdata" in only:
        plan = seed.SeedPlan(profile.seed_sessions, profile.seed_messages, profile.seed_big_session)
        backend = Backend(kind, base)
        data_dir = base / f"{kind}-big" / "data"
        if kind == "sqlite":
            info = await seed.sqlite_seed(plan, data_dir, log=log)
            url = None
        else:
            template, info = await seed.postgres_seed_template(plan, log=log)
            url = await backend.create(template=template)
        server = Server(data_dir, provider, url)
        try:
            log(f"{kind}: big data ({profile.seed_messages:,} messages)")
            server.start(timeout=300)
            async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
                ctx = cases.Context(profile, kind, provider, server, client, base, backend.name)
                results["bigdata"] = await bigdata.bigdata(ctx, info)
                errors += ctx.errors
        finally:
            server.stop()
            await backend.drop()
    return results, errors


ROWS = (
    ("relay", "added_first_ms_p50", "relay: added TTFT p50 (ms)", "< 5"),
    ("relay", "added_last_pct", "relay: added last token p50 (%)", "< 5"),
    ("fanin", "added_gap_ms_p99", "fan-in: added gap p99 (ms)", "< 25"),
    ("fanin", "token_late_ms_p50", "fan-in: token late p50 (ms)", "report"),
    ("fanin", "errors", "fan-in: errors", "0"),
    ("fanin", "cpu_s_per_1k_tokens", "fan-in: CPU s / 1k tokens", "report"),
    ("bigdata", "list_ms_p50", "big: list first page p50 (ms)", "< 10"),
    ("bigdata", "open_newest_100_ms_p50", "big: open newest 100 p50 (ms)", "< 15"),
    ("bigdata", "search_ms_p50", "big: search p50 (ms)", "< 100"),
    ("bigdata", "search_common_word_ms_p50", "big: search common word p50 (ms)", "report"),
    ("bigdata", "cold_start_ms", "big: cold start (ms)", "< 1000"),
    ("durability", "ratio_to_text", "durability: bytes written / text", "<= 4"),
    ("durability", "cluster_wal_ratio", "durability: PG cluster WAL / text", "report"),
    ("durability", "syncs_per_run", "durability: sync calls per run", "report"),
    ("resume", "first_replayed_ms_p50", "resume: first replayed p50 (ms)", "< 20"),
    ("fanin", "rss_idle_mb", "memory: RSS idle (MB)", "< 120"),
    ("fanin", "rss_per_stream_mb", "memory: RSS per stream (MB)", "< 1"),
)


def table(report: dict[str, Any]) -> str:
    kinds = list(report["backends"])
    header = ["measure", "target", *kinds]
    lines = [header]
    for bench, key, label, target in ROWS:
        cells = [report["backends"][k].get(bench, {}).get(key) for k in kinds]
        if all(c is None for c in cells):
            continue
        lines.append([label, target, *("-" if c is None else str(c) for c in cells)])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


async def amain(args: argparse.Namespace) -> int:
    if args.drop_cache:
        await seed.drop_cache()
    profile = cases.FULL if args.full else cases.QUICK
    if args.fanin_runs:
        profile = dataclasses.replace(profile, fanin_runs=args.fanin_runs)
    only = set(NAMES) if not args.only else set(args.only)
    kinds = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    report: dict[str, Any] = {"profile": profile.name, "machine": machine(), "backends": {}}
    errors: list[str] = []
    began = time.perf_counter()
    base = work_dir()
    provider = Provider(base).start()
    try:
        for kind in kinds:
            if not await backend_available(kind):
                if kind == "postgres" and os.environ.get("HESTIA_REQUIRE_POSTGRES"):
                    errors.append("PostgreSQL is not reachable")
                log(f"{kind}: not available, skipped")
                continue
            figures, problems = await run_backend(kind, profile, only, provider, base)
            report["backends"][kind] = figures
            errors += [f"{kind}: {p}" for p in problems]
    finally:
        provider.stop()
        remove(base)
    report["seconds"] = round(time.perf_counter() - began, 1)
    report["machine"]["load_after"] = os.getloadavg()
    report["errors"] = errors
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{stamp}-{profile.name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\n{profile.name} run: {report['seconds']} s; results in {path.relative_to(ROOT)}")
    for error in errors:
        print(f"ERROR {error}")
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--quick", action="store_true", help="small sizes, under two minutes")
    size.add_argument("--full", action="store_true", help="the sizes of the targets table")
    parser.add_argument("--only", action="append", choices=NAMES, help="repeatable")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--drop-cache", action="store_true", help="re-seed the big database")
    parser.add_argument("--profile", action="store_true", help="py-spy the server per benchmark")
    parser.add_argument("--fanin-runs", type=int, help="override the fan-in concurrency")
    args = parser.parse_args(argv)
    global PROFILE
    PROFILE = args.profile
    return asyncio.run(amain(args))
