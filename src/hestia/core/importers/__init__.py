"""Importers: other apps' conversations (and Hestia's own exports) as new Hestia sessions.

Each importer turns one source item into an `ImportedSession`; `save` writes it through the
store in one transaction (all or nothing per session) unless a session from the same
`(source, source_id)` exists already, which is what makes every import idempotent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from ...ids import new_id, utcnow
from ...store import imports as import_store
from ...store import sessions as session_store
from ...store.db import Database
from ..titles import DEFAULT_TITLE, title_from_message

ROLES = ("user", "assistant", "tool", "system")
MESSAGE_STATUSES = ("complete", "interrupted", "cancelled", "error")
MAX_TITLE_LENGTH = 200


class Skipped(Exception):
    """A source item that is fine but not worth a session (the message says why)."""


class Unreadable(Exception):
    """A source item that cannot be imported (the message says why, in one sentence)."""


@dataclass
class ImportedMessage:
    """One message as it will be stored; `seq` is kept when the source has one (Hestia's)."""

    role: str
    content: str
    created_at: datetime
    parts: list[dict[str, Any]] = field(default_factory=list)
    status: str = "complete"
    superseded: bool = False
    seq: int | None = None


@dataclass
class ImportedSession:
    """A whole session read from a source, not yet stored."""

    source: str
    source_id: str
    title: str | None
    created_at: datetime
    updated_at: datetime
    messages: list[ImportedMessage]
    pinned: bool = False
    archived: bool = False
    model: str | None = None
    runtime: str = "builtin"
    approval_policy: str | None = None
    title_source: str = "user"
    # Said in the summary next to the item, e.g. "recovered from its .bak".
    note: str | None = None
    # Other (source, source_id) pairs naming the same conversation: hermes-webui's session id is
    # also the Hermes agent's id in state.db, so importing both does not make two copies.
    aliases: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ImportItem:
    """One thing an importer can try: a name for people and a way to read it."""

    name: str
    load: Callable[[], ImportedSession]


@dataclass
class Outcome:
    """What became of one item: `imported`, `skipped` or `failed`, and why."""

    name: str
    result: str
    reason: str = ""
    session_id: str | None = None


@dataclass
class Summary:
    """All outcomes of one import, in order."""

    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, result: str) -> int:
        """How many items ended with `result`."""
        return sum(1 for o in self.outcomes if o.result == result)

    def line(self) -> str:
        """`imported 3, skipped 1, failed 0`."""
        return (
            f"imported {self.count('imported')}, skipped {self.count('skipped')}, "
            f"failed {self.count('failed')}"
        )


async def save(db: Database, item: ImportedSession) -> tuple[RowMapping, bool]:
    """Store `item` as a new session, or find the one imported from the same source before.

    Returns the session row and whether it was created now.
    """
    async with db.read() as conn:
        for source, source_id in [(item.source, item.source_id), *item.aliases]:
            existing = await import_store.find_by_source(
                conn, source=source, source_id=clean_text(source_id)
            )
            if existing is not None:
                return await _get(db, existing["id"]), False
    session_id = new_id()
    values, rows = _rows(session_id, item)
    try:
        async with db.write() as conn:
            await import_store.insert_session_with_messages(conn, session=values, rows=rows)
    except IntegrityError:
        # Imported concurrently by someone else: the unique (source, source_id) index decided.
        async with db.read() as conn:
            existing = await import_store.find_by_source(
                conn, source=item.source, source_id=values["source_id"]
            )
        if existing is None:
            raise
        return await _get(db, existing["id"]), False
    return await _get(db, session_id), True


async def run(
    db: Database, items: Iterable[ImportItem], *, on_done: Callable[[Outcome], object]
) -> Summary:
    """Import every item, one transaction each; a bad item is reported and the rest go on."""
    summary = Summary()
    for entry in items:
        try:
            imported = entry.load()
            row, created = await save(db, imported)
        except Skipped as exc:
            outcome = Outcome(entry.name, "skipped", str(exc))
        except Unreadable as exc:
            outcome = Outcome(entry.name, "failed", str(exc))
        else:
            if created:
                outcome = Outcome(entry.name, "imported", imported.note or "", row["id"])
            elif row["source"] != imported.source:
                why = f"already imported from {row['source']} as {row['id']}"
                outcome = Outcome(entry.name, "skipped", why)
            else:
                outcome = Outcome(entry.name, "skipped", f"already imported as {row['id']}")
        summary.outcomes.append(outcome)
        on_done(outcome)
    return summary


async def _get(db: Database, session_id: str) -> RowMapping:
    async with db.read() as conn:
        row = await session_store.get(conn, session_id=session_id)
    assert row is not None
    return row


def _rows(session_id: str, item: ImportedSession) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    seq = 0
    for message in item.messages:
        seq = message.seq if message.seq is not None else seq + 1
        rows.append(
            {
                "id": new_id(),
                "session_id": session_id,
                "seq": seq,
                "role": message.role,
                "content": clean_text(message.content),
                "parts": clean_json(message.parts) or None,
                "status": message.status,
                "run_id": None,
                "superseded": message.superseded,
                "created_at": message.created_at,
            }
        )
    title, title_source = _title(item)
    values = {
        "id": session_id,
        "title": title,
        "title_source": title_source,
        "model": clean_text(item.model)[:200] if item.model else None,
        "runtime": item.runtime,
        "workspace": None,
        "approval_policy": item.approval_policy,
        "created_at": item.created_at,
        "updated_at": max(item.updated_at, item.created_at),
        "pinned": item.pinned,
        "archived": item.archived,
        "message_count": sum(1 for r in rows if not r["superseded"]),
        "last_seq": seq,
        "source": item.source,
        "source_id": clean_text(item.source_id),
    }
    return values, rows


def _title(item: ImportedSession) -> tuple[str, str]:
    title = " ".join(clean_text(item.title or "").split())[:MAX_TITLE_LENGTH]
    if title:
        return title, item.title_source
    first_user = next((m for m in item.messages if m.role == "user" and m.content.strip()), None)
    if first_user is None:
        return DEFAULT_TITLE, "default"
    return title_from_message(clean_text(first_user.content)), "auto"


def clean_text(value: str) -> str:
    """Text every database can store: no NUL (PostgreSQL refuses it), no lone surrogates."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode()
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode()
    return value


def clean_json(value: Any) -> Any:
    """`clean_text` for every string inside a JSON value."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    return value


def to_datetime(value: Any, default: datetime | None = None) -> datetime:
    """A source's time (epoch seconds or milliseconds, or ISO 8601) as aware UTC; else `default`."""
    fallback = default or utcnow()
    if isinstance(value, bool) or value is None:
        return fallback
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds) or seconds <= 0:
            return fallback
        if seconds > 1e11:  # milliseconds since the epoch
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return fallback
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return to_datetime(float(text), fallback)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return fallback
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return fallback
