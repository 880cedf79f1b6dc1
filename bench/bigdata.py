"""The big-data benchmark: listing, opening a 10,000-message session and search, seeded."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .cases import Context
from .client import median, ms, pct


async def _timed_get(
    client: httpx.AsyncClient, path: str, n: int, check: Any, what: str, errors: list[str]
) -> list[float]:
    times: list[float] = []
    for i in range(n + 3):  # three warm-ups
        began = time.perf_counter()
        response = await client.get(path)
        elapsed = time.perf_counter() - began
        if response.status_code != 200 or not check(response.json()):
            errors.append(f"big data {what}: {response.status_code} {response.text[:200]}")
            return times
        if i >= 3:
            times.append(elapsed)
    return times


async def bigdata(ctx: Context, seed_info: dict[str, Any]) -> dict[str, Any]:
    """Listing, opening a 10,000-message session, and search on a seeded database."""
    p = ctx.profile
    n, big = p.queries, seed_info["big_session_id"]
    listing = await _timed_get(
        ctx.client, "/api/sessions", n, lambda b: len(b["sessions"]) == 50, "list", ctx.errors
    )
    opening = await _timed_get(
        ctx.client,
        f"/api/sessions/{big}?limit=100",
        n,
        lambda b: len(b["messages"]) == 100 and b["has_more"],
        "open",
        ctx.errors,
    )
    rare = await _timed_get(
        ctx.client, "/api/sessions?q=quartz", n, lambda b: b["sessions"], "search", ctx.errors
    )
    common = await _timed_get(
        ctx.client,
        f"/api/sessions?q={seed_info['common_word']}",
        max(n // 5, 3),
        lambda b: b["sessions"],
        "search common",
        ctx.errors,
    )
    return {
        "sessions": p.seed_sessions,
        "messages": p.seed_messages,
        "seed_s": seed_info.get("seconds"),
        "seed_cached": bool(seed_info.get("cached")),
        "cold_start_ms": ms(ctx.server.started_in),
        "list_ms_p50": ms(median(listing)),
        "list_ms_p99": ms(pct(listing, 99)),
        "open_newest_100_ms_p50": ms(median(opening)),
        "open_newest_100_ms_p99": ms(pct(opening, 99)),
        "search_ms_p50": ms(median(rare)),
        "search_ms_p99": ms(pct(rare, 99)),
        "search_common_word_ms_p50": ms(median(common)),
    }
