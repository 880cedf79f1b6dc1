"""One uploaded document (`POST /api/sessions/import`): a Hestia export or a hermes-webui file."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from ...errors import BadRequest
from ...store.db import Database
from . import ImportedSession, Skipped, Unreadable, hermes_webui, hestia_json, save


async def import_bytes(db: Database, raw: bytes) -> tuple[RowMapping, bool]:
    """Import the JSON document in `raw`; returns the session and whether it is new."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON ({exc}).", code="invalid_json") from None
    return await save(db, parse_document(data))


def parse_document(data: Any) -> ImportedSession:
    """Detect the format of `data` and read it; BadRequest with a sentence when it is neither."""
    if hestia_json.is_export(data):
        return hestia_json.parse(data)
    if isinstance(data, dict) and "format" not in data and _looks_like_webui(data):
        session_id = data.get("session_id")
        if not isinstance(session_id, str) or not session_id.strip():
            raise BadRequest(
                "This hermes-webui session has no 'session_id' string.", code="invalid_import"
            )
        try:
            return hermes_webui.parse(data, fallback_id=session_id)
        except Skipped as exc:
            raise BadRequest(f"This hermes-webui session {exc}", code="empty_session") from None
        except Unreadable as exc:
            raise BadRequest(f"This hermes-webui session {exc}", code="invalid_import") from None
    if isinstance(data, dict) and "format" in data:
        raise BadRequest(
            f"Unknown export format {str(data['format'])[:100]!r}; this Hestia reads "
            f"{hestia_json.FORMAT!r} version {hestia_json.VERSION}.",
            code="unknown_import_format",
        )
    raise BadRequest(
        "The body is neither a Hestia session export (format: hestia-session) nor a "
        "hermes-webui session (session_id, messages).",
        code="unknown_import_format",
    )


def _looks_like_webui(data: dict[str, Any]) -> bool:
    return "session_id" in data and ("messages" in data or "title" in data)
