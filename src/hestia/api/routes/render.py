"""`POST /api/render`: markdown to the same sanitised HTML the app shows for stored messages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from ...core.render import render_markdown
from ..schemas import RenderRequest

router = APIRouter(prefix="/api", tags=["render"])


@router.post("/render")
async def render(body: RenderRequest) -> dict[str, Any]:
    """Render markdown (a streaming answer's text so far, or any text) as safe HTML."""
    # Rendering a long answer takes milliseconds; off the event loop, streams never wait on it.
    return {"html": await run_in_threadpool(render_markdown, body.text)}
