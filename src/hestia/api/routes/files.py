"""A session's workspace files: list, read or download, write, upload (I10: never outside it)."""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response

from ...errors import TooLarge
from ..deps import ServicesDep
from ..responses import FileContent, FileList, FileWritten, Uploaded

router = APIRouter(prefix="/api/sessions", tags=["files"])

PathQuery = Annotated[str, Query(description="Relative to the workspace; empty is its root.")]


@router.get("/{session_id}/files", response_model=FileList)
async def list_files(
    session_id: str, services: ServicesDep, path: PathQuery = ""
) -> dict[str, Any]:
    """A folder's entries, folders first, then by name (at most 5,000; see `truncated`)."""
    return await services.files.list(session_id, path)


@router.get(
    "/{session_id}/files/content",
    response_model=None,
    responses={
        200: {
            "description": "The file as JSON, or with `raw=true` its bytes (any media type).",
            "content": {
                "application/json": {"schema": FileContent.model_json_schema()},
                "*/*": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def read_file(
    session_id: str, services: ServicesDep, path: PathQuery = "", raw: bool = False
) -> dict[str, Any] | Response:
    """A file as JSON (`content` is null for binary files), or with `raw=true` its bytes as a
    download."""
    if not raw:
        return await services.files.read(session_id, path)
    relative, data = await services.files.read_bytes(session_id, path)
    name = relative.rsplit("/", 1)[-1]
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


@router.put("/{session_id}/files/content", response_model=FileWritten)
async def write_file(
    session_id: str, request: Request, services: ServicesDep, path: PathQuery = ""
) -> dict[str, Any]:
    """Create or replace a file with the raw request body (its folders are created)."""
    data = await request.body()
    return await services.files.write(session_id, path, data)


@router.post("/{session_id}/files/upload", status_code=201, response_model=Uploaded)
async def upload_files(
    session_id: str,
    services: ServicesDep,
    files: Annotated[list[UploadFile], File(description="One or more files.")],
    path: PathQuery = "",
) -> dict[str, Any]:
    """Upload files (multipart field `files`) into the folder `path`, created if missing."""
    limit = services.settings.max_file_bytes
    received: list[tuple[str, bytes]] = []
    for upload in files:
        data = await upload.read(limit + 1)
        await upload.close()
        if len(data) > limit:
            raise TooLarge(
                f"{upload.filename!r} is larger than {limit:,} bytes.", code="file_too_large"
            )
        received.append((upload.filename or "", data))
    return await services.files.upload(session_id, path, received)
