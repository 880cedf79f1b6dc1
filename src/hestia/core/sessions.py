"""Sessions: create, list with search and keyset paging, read with message paging, change, trash."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from ..errors import BadRequest, Conflict, NotFound
from ..ids import new_id, utcnow
from ..store import messages as message_store
from ..store import sessions as session_store
from ..store.db import Database
from . import runtimes, streamed
from .approvals import POLICIES
from .runs import RunManager
from .titles import DEFAULT_TITLE

MAX_TITLE_LENGTH = 200


class SessionService:
    """The rules for sessions; routes call these and only shape JSON."""

    def __init__(self, *, db: Database, runs: RunManager) -> None:
        self.db = db
        self.runs = runs

    async def create(
        self,
        *,
        title: str | None = None,
        model: str | None = None,
        runtime: str | None = None,
        workspace: str | None = None,
        approval_policy: str | None = None,
    ) -> RowMapping:
        """A new, empty session."""
        now = utcnow()
        session_id = new_id()
        if runtime is None:
            runtime = await self.runs.preferences.default_runtime()
        values: dict[str, Any] = {
            "id": session_id,
            "title": DEFAULT_TITLE,
            "title_source": "default",
            "model": _model(model),
            "runtime": _runtime(runtime),
            "workspace": _workspace(workspace),
            "approval_policy": _policy(approval_policy),
            "created_at": now,
            "updated_at": now,
        }
        if title is not None:
            values["title"] = _title(title)
            values["title_source"] = "user"
        async with self.db.write() as conn:
            await session_store.insert(conn, values=values)
        return await self.get_row(session_id)

    async def get_row(self, session_id: str) -> RowMapping:
        """One session, or NotFound."""
        async with self.db.read() as conn:
            row = await session_store.get(conn, session_id=session_id)
        if row is None:
            raise NotFound(f"There is no session {session_id}.", code="session_not_found")
        return row

    async def list(
        self,
        *,
        q: str | None,
        limit: int,
        cursor: str | None,
        archived: bool,
        trashed: bool,
    ) -> tuple[list[RowMapping], str | None]:
        """A page of sessions and the cursor of the next page (None at the end)."""
        after = decode_cursor(cursor) if cursor else None
        q = (q or "").strip() or None
        async with self.db.read() as conn:
            rows = await session_store.list_page(
                conn,
                dialect=self.db.dialect,
                limit=limit + 1,
                archived=archived,
                trashed=trashed,
                q=q,
                after=after,
            )
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return rows[:limit], next_cursor

    async def read(
        self, session_id: str, *, limit: int, before_seq: int | None, include_superseded: bool
    ) -> tuple[RowMapping, list[Mapping[str, Any]], bool]:
        """The session, its newest messages before `before_seq` (oldest first), and `has_more`."""
        async with self.db.read() as conn:
            session = await session_store.get(conn, session_id=session_id)
            if session is None:
                raise NotFound(f"There is no session {session_id}.", code="session_not_found")
            rows, has_more = await message_store.page(
                conn,
                session_id=session_id,
                limit=limit,
                before_seq=before_seq,
                include_superseded=include_superseded,
            )
            filled = await streamed.fill_streaming(conn, rows)
        return session, filled, has_more

    async def update(self, session_id: str, changes: dict[str, Any]) -> RowMapping:
        """Change any of title, pinned, archived, model, runtime, workspace."""
        values: dict[str, Any] = {}
        if "title" in changes:
            values["title"] = _title(changes["title"])
            values["title_source"] = "user"
        for flag in ("pinned", "archived"):
            if flag in changes:
                if not isinstance(changes[flag], bool):
                    raise BadRequest(f"'{flag}' must be true or false.", code="invalid_field")
                values[flag] = changes[flag]
        if "model" in changes:
            values["model"] = _model(changes["model"])
        if "runtime" in changes:
            values["runtime"] = _runtime(changes["runtime"])
        if "workspace" in changes:
            values["workspace"] = _workspace(changes["workspace"])
        if "approval_policy" in changes:
            values["approval_policy"] = _policy(changes["approval_policy"])
        await self.get_row(session_id)
        # `updated_at` means new messages: pinning or renaming does not move a session.
        if values:
            async with self.db.write() as conn:
                await session_store.update(conn, session_id=session_id, values=values)
        return await self.get_row(session_id)

    async def trash(self, session_id: str) -> RowMapping:
        """Move a session to the trash, cancelling its runs first (restorable, I7)."""
        session = await self.get_row(session_id)
        await self.runs.cancel_session(session_id)
        if session["trashed_at"] is None:
            async with self.db.write() as conn:
                await session_store.update(
                    conn, session_id=session_id, values={"trashed_at": utcnow()}
                )
        return await self.get_row(session_id)

    async def restore(self, session_id: str) -> RowMapping:
        """Take a session out of the trash (and start a run that was queued in it)."""
        await self.get_row(session_id)
        async with self.db.write() as conn:
            await session_store.update(conn, session_id=session_id, values={"trashed_at": None})
        await self.runs.start_next(session_id)
        return await self.get_row(session_id)

    async def purge(self, session_id: str) -> None:
        """Delete a trashed session and everything in it, for good."""
        session = await self.get_row(session_id)
        if session["trashed_at"] is None:
            raise Conflict(
                "Only a session in the trash can be purged; delete it first.",
                code="session_not_trashed",
            )
        await self.runs.cancel_session(session_id)
        for run in await self.runs.for_session(session_id, active_only=True):
            await self.runs.wait_idle(run["id"])
        async with self.db.write() as conn:
            await session_store.delete(conn, session_id=session_id)


def encode_cursor(row: RowMapping) -> str:
    """An opaque cursor for the listing position just after `row`."""
    raw = orjson.dumps([bool(row["pinned"]), row["updated_at"].isoformat(), row["id"]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[bool, datetime, str]:
    """The listing position a cursor stands for; BadRequest when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        pinned, updated_at, session_id = orjson.loads(raw)
        if not isinstance(pinned, bool) or not isinstance(session_id, str) or "\x00" in session_id:
            raise ValueError  # (PostgreSQL cannot even compare text holding NUL)
        when = datetime.fromisoformat(updated_at)
        if when.tzinfo is None:
            raise ValueError
        # In UTC, as stored; a time that falls off the calendar in UTC is no cursor of ours.
        return pinned, when.astimezone(UTC), session_id
    except (ValueError, TypeError, OverflowError, binascii.Error, orjson.JSONDecodeError):
        raise BadRequest(
            "The cursor is not valid; start again without one.", code="invalid_cursor"
        ) from None


def _title(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("The title must be a non-empty string.", code="invalid_title")
    value = " ".join(value.split())
    if len(value) > MAX_TITLE_LENGTH:
        raise BadRequest(
            f"The title is longer than {MAX_TITLE_LENGTH} characters.", code="invalid_title"
        )
    return value


def _model(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise BadRequest("The model must be a model name.", code="invalid_model")
    return value.strip()


def _policy(value: Any) -> str | None:
    """None follows the default in settings."""
    if value is None or value in POLICIES:
        return value
    raise BadRequest(
        f"'approval_policy' must be one of {', '.join(POLICIES)}, or null for the default.",
        code="invalid_policy",
    )


def _runtime(value: Any) -> str:
    status = runtimes.status_of(value) if isinstance(value, str) else None
    if status is None:
        raise BadRequest(
            f"'runtime' must be one of {', '.join(runtimes.RUNTIMES)}.", code="runtime_unavailable"
        )
    if not status.available:
        raise BadRequest(
            f"The {value} runtime is not available: {status.reason}", code="runtime_unavailable"
        )
    return value


def _workspace(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("The workspace must be a folder path.", code="invalid_workspace")
    try:
        path = Path(value).expanduser()
        usable = path.is_absolute() and path.is_dir()
    except (OSError, ValueError, RuntimeError):  # NUL bytes, unknown ~user, too long
        usable = False
    if not usable:
        raise BadRequest(
            f"The workspace {value!r} is not an existing folder (give an absolute path).",
            code="invalid_workspace",
        )
    return str(path.resolve())
