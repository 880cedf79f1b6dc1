"""Export a session as Hestia's JSON (to import again) or as a Markdown transcript.

Both are produced in pieces: messages are read a page at a time by seq, up to the last seq the
session had when the export started, so a long session never sits in memory whole and a run
still going does not make the export end in the middle of a turn it started after.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from .. import __version__
from ..errors import BadRequest, NotFound
from ..ids import iso, utcnow
from ..store import messages as message_store
from ..store import runs as run_store
from ..store import sessions as session_store
from ..store.db import Database
from . import streamed
from .importers.hestia_json import FORMAT, VERSION
from .views import message_view, session_view

FORMATS = ("json", "markdown")
PAGE = 500
_SLUG = re.compile(r"[^a-z0-9]+")


class Exporter:
    """Reads one session for export, page by page."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def session(self, session_id: str, fmt: str) -> RowMapping:
        """The session to export (NotFound), after checking the format (BadRequest)."""
        if fmt not in FORMATS:
            raise BadRequest(
                f"Unknown export format {fmt!r}; use json or markdown.", code="invalid_format"
            )
        async with self.db.read() as conn:
            row = await session_store.get(conn, session_id=session_id)
        if row is None:
            raise NotFound(f"There is no session {session_id}.", code="session_not_found")
        return row

    async def messages(
        self, session: Mapping[str, Any], *, include_superseded: bool
    ) -> AsyncIterator[Mapping[str, Any]]:
        """The session's messages up to its last seq at the start, oldest first."""
        after, up_to = 0, session["last_seq"]
        while True:
            async with self.db.read() as conn:
                rows = await message_store.page_after(
                    conn,
                    session_id=session["id"],
                    after_seq=after,
                    up_to_seq=up_to,
                    limit=PAGE,
                    include_superseded=include_superseded,
                )
                filled = await streamed.fill_streaming(conn, rows)
            for row in filled:
                yield row
            if len(rows) < PAGE:
                return
            after = rows[-1]["seq"]

    async def json_chunks(self, session: Mapping[str, Any]) -> AsyncIterator[bytes]:
        """The JSON export, as pieces of one JSON document."""
        async with self.db.read() as conn:
            runs = await run_store.status_counts(conn, session_id=session["id"])
        head = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": iso(utcnow()),
            "hestia_version": __version__,
            "session": export_session_view(session),
            "runs": {"count": sum(runs.values()), "by_status": runs},
        }
        # The head without its closing brace, then the messages array, then the brace.
        yield orjson.dumps(head)[:-1] + b',"messages":['
        first = True
        async for row in self.messages(session, include_superseded=True):
            yield (b"" if first else b",") + b"\n" + orjson.dumps(message_view(row))
            first = False
        yield b"\n]}\n"

    async def markdown_chunks(self, session: Mapping[str, Any]) -> AsyncIterator[str]:
        """A readable transcript: live messages, tool calls and results as fenced blocks."""
        yield markdown_head(session)
        async for row in self.messages(session, include_superseded=False):
            yield markdown_message(row)


def export_session_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """The Session object plus what an import needs to restore it faithfully."""
    view = session_view(row)
    view["title_source"] = row["title_source"]
    view["source"] = row.get("source")
    view["source_id"] = row.get("source_id")
    return view


def filename(session: Mapping[str, Any], fmt: str) -> str:
    """`hestia-<title slug>-<id start>.json|md`: ASCII only, safe in any header."""
    slug = _SLUG.sub("-", session["title"].lower()).strip("-")[:50].strip("-") or "session"
    return f"hestia-{slug}-{session['id'][:8]}.{'json' if fmt == 'json' else 'md'}"


def markdown_head(session: Mapping[str, Any]) -> str:
    """The title and the session's facts."""
    lines = [f"# {_one_line(session['title'])}", ""]
    lines.append(f"- Session: `{session['id']}`")
    lines.append(f"- Created: {iso(session['created_at'])}")
    lines.append(f"- Updated: {iso(session['updated_at'])}")
    if session["model"]:
        lines.append(f"- Model: `{session['model']}`")
    flags = [name for name in ("pinned", "archived") if session[name]]
    if flags:
        lines.append(f"- {', '.join(flags).capitalize()}")
    return "\n".join(lines) + "\n"


def markdown_message(row: Mapping[str, Any]) -> str:
    """One message as a Markdown section."""
    parts = row["parts"] or []
    when = iso(row["created_at"])
    status = "" if row["status"] == "complete" else f" ({row['status']})"
    if row["role"] == "tool":
        result = next((p for p in parts if p.get("type") == "tool_result"), {})
        error = " (error)" if result.get("is_error") else ""
        head = f"### Tool result: `{result.get('name', 'tool')}`{error}"
        return f"\n{head}\n\n{fenced(row['content'])}"
    out = [f"\n## {row['role'].capitalize()} · {when}{status}\n"]
    if row["content"]:
        out.append(f"\n{row['content'].rstrip()}\n")
    for part in parts:
        if part.get("type") == "tool_call":
            out.append(f"\n### Tool call: `{part.get('name', 'tool')}`\n\n")
            out.append(fenced(_pretty(part.get("arguments", "")), "json"))
    return "".join(out)


def fenced(text: str, info: str = "") -> str:
    """A fenced code block that no run of backticks inside `text` can close early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}\n"


def _pretty(arguments: Any) -> str:
    if not isinstance(arguments, str):
        return json.dumps(arguments, indent=2, ensure_ascii=False)
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except ValueError:
        return arguments


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "Untitled"
