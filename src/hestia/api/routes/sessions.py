"""Sessions and the messages sent into them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ...core.render import render_markdown
from ...core.views import message_view, run_view, session_view
from ..deps import ServicesDep
from ..responses import Purged, RunEnvelope, RunList, Session, SessionList, SessionRead
from ..schemas import MessageCreate, MessageEdit, SessionCreate, SessionPatch

router = APIRouter(prefix="/api/sessions", tags=["sessions"])

# Seqs are 32-bit integers in the database; a larger number is bad input, not a 500.
MAX_SEQ = 2**31 - 1


@router.post("", status_code=201, response_model=Session)
async def create_session(
    services: ServicesDep, body: Annotated[SessionCreate | None, Body()] = None
) -> dict[str, Any]:
    """Create an empty session (every field is optional; the body may be left out)."""
    row = await services.sessions.create(**(body or SessionCreate()).model_dump())
    return session_view(row)


@router.get("", response_model=SessionList)
async def list_sessions(
    services: ServicesDep,
    q: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    archived: bool = False,
    trashed: bool = False,
) -> dict[str, Any]:
    """Pinned first, then newest; `q` searches titles and message text."""
    rows, next_cursor = await services.sessions.list(
        q=q, limit=limit, cursor=cursor, archived=archived, trashed=trashed
    )
    return {"sessions": [session_view(r) for r in rows], "next_cursor": next_cursor}


@router.get("/{session_id}", response_model=SessionRead)
async def get_session(
    session_id: str,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_seq: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
    include_superseded: bool = False,
    render: bool = False,
) -> dict[str, Any]:
    """The session and its newest messages before `before_seq`, oldest first; with
    `render=true` each answer also carries `html`, its markdown rendered and sanitised."""
    session, rows, has_more = await services.sessions.read(
        session_id, limit=limit, before_seq=before_seq, include_superseded=include_superseded
    )
    messages = [message_view(r) for r in rows]
    if render:
        await run_in_threadpool(_add_html, messages)
    return {"session": session_view(session), "messages": messages, "has_more": has_more}


@router.patch("/{session_id}", response_model=Session)
async def patch_session(
    session_id: str, body: SessionPatch, services: ServicesDep
) -> dict[str, Any]:
    """Rename, pin, archive, or change the model, runtime or workspace."""
    row = await services.sessions.update(session_id, body.model_dump(exclude_unset=True))
    return session_view(row)


@router.delete("/{session_id}", response_model=Session | Purged)
async def delete_session(
    session_id: str, services: ServicesDep, purge: bool = False
) -> dict[str, Any]:
    """Move to the trash (cancelling its runs); with `purge=true`, delete a trashed one."""
    if purge:
        await services.sessions.purge(session_id)
        return {"id": session_id, "purged": True}
    return session_view(await services.sessions.trash(session_id))


@router.post("/{session_id}/restore", response_model=Session)
async def restore_session(session_id: str, services: ServicesDep) -> dict[str, Any]:
    """Take a session out of the trash."""
    return session_view(await services.sessions.restore(session_id))


@router.post("/{session_id}/messages", status_code=202, response_model=RunEnvelope)
async def send_message(session_id: str, body: MessageCreate, services: ServicesDep) -> JSONResponse:
    """Send a message; the run is `running` at once or `queued` behind the active one."""
    run = await services.runs.submit(
        session_id,
        content=body.content,
        client_message_id=body.client_message_id,
        model=body.model,
    )
    return JSONResponse({"run": run_view(run)}, status_code=202)


@router.post("/{session_id}/messages/{seq}/edit", status_code=202, response_model=RunEnvelope)
async def edit_message(
    session_id: str,
    seq: Annotated[int, Path(ge=1, le=MAX_SEQ)],
    body: MessageEdit,
    services: ServicesDep,
) -> JSONResponse:
    """Supersede user message `seq` and what follows, and answer the new text."""
    run = await services.runs.edit(session_id, seq=seq, content=body.content)
    return JSONResponse({"run": run_view(run)}, status_code=202)


@router.post("/{session_id}/retry", status_code=202, response_model=RunEnvelope)
async def retry(session_id: str, services: ServicesDep) -> JSONResponse:
    """Supersede the last answer and answer the last user message again."""
    run = await services.runs.retry(session_id)
    return JSONResponse({"run": run_view(run)}, status_code=202)


@router.get("/{session_id}/runs", response_model=RunList)
async def session_runs(
    session_id: str, services: ServicesDep, active: bool = False
) -> dict[str, Any]:
    """The session's runs, oldest first (only queued and running with `active=true`)."""
    rows = await services.runs.for_session(session_id, active_only=active)
    return {"runs": [run_view(r) for r in rows]}


def _add_html(messages: list[dict[str, Any]]) -> None:
    """Answers as the app shows them, rendered markdown; stored events never carry HTML."""
    for message in messages:
        if message["role"] == "assistant":
            message["html"] = render_markdown(message["content"])
