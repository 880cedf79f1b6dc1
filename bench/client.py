"""The driver's side of the wire: sessions, sends, SSE reading with arrival times, statistics."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson


def directive(text: str, **script: Any) -> str:
    """A message with a `#fake` directive: how the fake provider answers it."""
    return f"{text} #fake {json.dumps(script)}"


def expected_text(tokens: int) -> str:
    """What the fake provider streams for `tokens`: 'w0 w1 ... '."""
    return "".join(f"w{i} " for i in range(tokens))


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), nearest rank; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


@dataclass
class Stream:
    """What one SSE reader saw: event types, delta text and arrival times."""

    started: float
    first_event: float | None = None
    delta_times: list[float] = field(default_factory=list)
    arrivals_ns: list[int] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def terminal(self) -> str | None:
        return self.types[-1] if self.types and self.types[-1].startswith("run.") else None


async def read_sse(
    client: httpx.AsyncClient,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    started: float | None = None,
    stop_after: int | None = None,
) -> Stream:
    """Follow an SSE stream to its end (or `stop_after` events), timing every delta."""
    stream = Stream(started=time.perf_counter() if started is None else started)
    event_type, data = "message", ""
    try:
        async with client.stream("GET", path, headers=headers or {}, timeout=120) as response:
            if response.status_code != 200:
                stream.error = f"HTTP {response.status_code}"
                return stream
            async for line in response.aiter_lines():
                if line.startswith("id:"):
                    stream.ids.append(int(line[3:]))
                elif line.startswith("event:"):
                    event_type = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and data:
                    now = time.perf_counter()
                    if stream.first_event is None:
                        stream.first_event = now
                    stream.types.append(event_type)
                    if event_type == "message.delta":
                        stream.delta_times.append(now)
                        stream.arrivals_ns.append(time.monotonic_ns())
                        stream.text.append(orjson.loads(data)["text"])
                    event_type, data = "message", ""
                    if stop_after is not None and len(stream.types) >= stop_after:
                        break
    except httpx.HTTPError as exc:
        stream.error = f"{type(exc).__name__}: {exc}"
    return stream


async def new_session(client: httpx.AsyncClient, title: str = "bench") -> str:
    response = await client.post("/api/sessions", json={"title": title})
    response.raise_for_status()
    return response.json()["id"]


async def send(client: httpx.AsyncClient, session_id: str, content: str) -> dict[str, Any]:
    response = await client.post(f"/api/sessions/{session_id}/messages", json={"content": content})
    if response.status_code != 202:
        raise RuntimeError(f"send failed: {response.status_code} {response.text}")
    return response.json()["run"]


async def run_through_hestia(
    client: httpx.AsyncClient, session_id: str, content: str
) -> tuple[dict[str, Any], Stream]:
    """Send and follow the run's events; the stream's clock starts before the send."""
    began = time.perf_counter()
    run = await send(client, session_id, content)
    stream = await read_sse(client, f"/api/runs/{run['id']}/events", started=began)
    return run, stream


async def direct_stream(client: httpx.AsyncClient, provider_url: str, content: str) -> Stream:
    """Stream a chat completion straight from the provider, timing content chunks."""
    stream = Stream(started=time.perf_counter())
    body = {
        "model": "fake-model",
        "stream": True,
        "messages": [{"role": "user", "content": content}],
    }
    try:
        async with client.stream(
            "POST", f"{provider_url}/v1/chat/completions", json=body, timeout=120
        ) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data:") or line.endswith("[DONE]"):
                    continue
                now = time.perf_counter()
                chunk = orjson.loads(line[5:])
                choices = chunk.get("choices") or []
                text = choices[0].get("delta", {}).get("content") if choices else None
                if text:
                    if stream.first_event is None:
                        stream.first_event = now
                    stream.delta_times.append(now)
                    stream.arrivals_ns.append(time.monotonic_ns())
                    stream.text.append(text)
    except httpx.HTTPError as exc:
        stream.error = f"{type(exc).__name__}: {exc}"
    return stream


def stamps(stream: Stream) -> list[tuple[int, int, int]]:
    """`(index, sent_ns, arrived_ns)` per token of a stream of stamped tokens ("i@ns ").

    A delta may carry several tokens (Hestia may join deltas that were waiting together);
    each token keeps the arrival time of its delta.
    """
    out: list[tuple[int, int, int]] = []
    for text, arrived in zip(stream.text, stream.arrivals_ns, strict=True):
        for token in text.split():
            index, _, sent = token.partition("@")
            out.append((int(index), int(sent), arrived))
    return out


def stamped_ok(stream: Stream, tokens: int) -> bool:
    """Every stamped token arrived once, in order."""
    try:
        return [i for i, _, _ in stamps(stream)] == list(range(tokens))
    except ValueError:
        return False


def latencies(stream: Stream) -> list[float]:
    """Seconds from the provider sending each token to the reader having it."""
    return [(arrived - sent) / 1e9 for _, sent, arrived in stamps(stream)]


def added_gaps(stream: Stream) -> list[float]:
    """Per token: the gap since the previous token at the reader minus the gap at the provider."""
    seen = stamps(stream)
    return [
        ((seen[i][2] - seen[i - 1][2]) - (seen[i][1] - seen[i - 1][1])) / 1e9
        for i in range(1, len(seen))
    ]
