"""Runs: read, follow as Server-Sent Events, cancel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse

from ...core.events import Event, follow_batches
from ...core.views import run_view
from ...errors import BadRequest
from ..deps import ServicesDep
from ..responses import Run

router = APIRouter(prefix="/api/runs", tags=["runs"])

MAX_EVENT_ID = 2**31 - 1


@router.get("/{run_id}", response_model=Run)
async def get_run(run_id: str, services: ServicesDep) -> dict[str, Any]:
    """One run."""
    return run_view(await services.runs.get(run_id))


@router.get(
    "/{run_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"description": "Server-Sent Events.", "content": {"text/event-stream": {}}}},
)
async def run_events(
    run_id: str,
    services: ServicesDep,
    after: Annotated[str | None, Query()] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """The run's events after `Last-Event-ID` (or `?after=N`), live until the terminal one."""
    start = _event_id(last_event_id, "Last-Event-ID") if last_event_id is not None else None
    if start is None:
        start = _event_id(after, "after") if after is not None else 0
    run = await services.runs.check_exists(run_id)  # 404 before the stream starts

    async def stream() -> AsyncIterator[bytes]:
        # Events that are ready together go out in one write (a replay, a follower behind).
        async for batch in follow_batches(services.db, services.bus, run_id, after=start, run=run):
            yield b"".join(_encode(event) for event in batch)

    return EventSourceResponse(
        stream(),
        ping=services.settings.sse_ping_seconds,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post("/{run_id}/cancel", status_code=202, response_model=Run)
async def cancel_run(run_id: str, services: ServicesDep) -> JSONResponse:
    """Stop a run; a running one keeps its partial text and ends `cancelled`."""
    return JSONResponse(run_view(await services.runs.cancel(run_id)), status_code=202)


def _event_id(value: str, name: str) -> int:
    value = value.strip()
    # isascii: str.isdigit() also accepts '²' (int() then raises) and other scripts' digits.
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or int(value) > MAX_EVENT_ID:
        raise BadRequest(
            f"{name} must be a whole number of zero or more (an event id).",
            code="invalid_last_event_id",
        )
    return int(value)


def _encode(event: Event) -> bytes:
    return f"id: {event.id}\nevent: {event.type}\ndata: {event.data}\n\n".encode()
