"""Export a session (JSON or Markdown) and import one (a Hestia export or a hermes-webui file)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ...core.export import Exporter, filename
from ...core.importers.document import import_bytes
from ...core.views import session_view
from ..deps import ServicesDep

router = APIRouter(prefix="/api/sessions", tags=["sessions"])

MEDIA_TYPES = {"json": "application/json", "markdown": "text/markdown; charset=utf-8"}


@router.get("/{session_id}/export")
async def export_session(
    session_id: str,
    services: ServicesDep,
    format: Annotated[str, Query(max_length=20)] = "json",  # noqa: A002 (the contract's name)
) -> StreamingResponse:
    """The session as a download: `json` (to import again) or `markdown` (to read)."""
    exporter = Exporter(services.db)
    session = await exporter.session(session_id, format)
    chunks = (
        exporter.json_chunks(session) if format == "json" else exporter.markdown_chunks(session)
    )
    return StreamingResponse(
        chunks,
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename(session, format)}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


# The body is read raw (its format is detected), so its shape is documented here.
IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "A Hestia session export (format: hestia-session) or a hermes-webui "
        "session file.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post("/import", status_code=201, openapi_extra=IMPORT_BODY)
async def import_session(request: Request, services: ServicesDep) -> Any:
    """A new session from the JSON body (201), or the one this document made before (200)."""
    row, created = await import_bytes(services.db, await request.body())
    return JSONResponse(session_view(row), status_code=201 if created else 200)
