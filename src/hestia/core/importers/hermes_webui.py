"""hermes-webui's session files → Hestia sessions.

The format, as read in hermes-webui's source (github.com/nesquena/hermes-webui: `api/models.py`
`Session.__init__` / `Session.save` / `load_metadata_only`, `api/session_json.py`
`write_session_json_with_backup`, `api/session_recovery.py`, `api/streaming.py`):

- The state dir (default `~/.hermes/webui`) holds `sessions/<session_id>.json`, one JSON object
  per session, UTF-8, written whole (temp file + `os.replace`). Files whose name starts with
  `_` are not sessions (`_index.json` is a list of summaries; `_drafts/` and `_turn_journal/`
  hold other things); `<id>.json.tmp.<pid>.<tid>` are leftovers of interrupted writes.
- Top-level fields, metadata first: `session_id`, `title` (default `"Untitled"`), `workspace`,
  `model`, `created_at` and `updated_at` (epoch seconds, floats), `pinned`, `archived`,
  `project_id`, `profile`, token counts, `active_stream_id`, `pending_*`, then `messages` and
  `tool_calls`, then any other attribute.
- `messages` are the Hermes agent's own message dicts (see `hermes_messages`), with
  `timestamp` (or `_ts`) added by the web UI, `reasoning` on the last assistant message and
  `attachments` on user messages. The top-level `tool_calls` is a display summary derived from
  `messages` (`name`, `snippet` ≤ 200 chars, `tid`, `assistant_msg_idx`, `args` cut to 120
  chars), so it is not imported: the messages hold the full calls and results.
- A save that would shrink `messages` first copies the old file to `<id>.json.bak`; webui's own
  recovery restores a session whose `.bak` has more messages than its file. A
  "metadata-only stub" is a file with the metadata but an empty (or no) `messages`.

What this importer does with that:
- Each `sessions/*.json` not starting with `_` is one candidate; `.bak` and `.tmp.*` files are
  never sessions of their own. When `<id>.json.bak` parses and holds more messages than
  `<id>.json` (a stub saved over a conversation, or a truncated file), the `.bak` is imported
  instead, as webui's recovery would, and the summary says so.
- A session with no messages (a stub, or "New chat" never used) is skipped with that reason.
- A file that is not UTF-8, not JSON (truncated or malformed) or not a session object fails
  with one sentence, and the import goes on. Files are only read, never written or moved.
- Kept: title, created/updated times, pinned, archived, model, messages with their times,
  tool calls and results, reasoning. Not kept: workspace (a path on the old machine),
  projects, profiles, token counts and costs, and a `pending_user_message` (a turn that was
  in flight when webui stopped).
- A webui session's id is also its agent's id in Hermes' state.db; whichever of the two
  importers runs second skips that conversation ("already imported from …").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import ImportedSession, ImportItem, Skipped, Unreadable, to_datetime
from .hermes_messages import convert

SOURCE = "hermes-webui"
DEFAULT_STATE_DIR = Path("~/.hermes/webui")
DEFAULT_TITLES = ("Untitled", "New Chat", "")


def sessions_dir(state_dir: Path) -> Path:
    """The folder holding the session files: `<state dir>/sessions`, or the folder itself."""
    inner = state_dir / "sessions"
    return inner if inner.is_dir() else state_dir


def items(state_dir: Path) -> list[ImportItem]:
    """One item per session file, oldest name first; `ValueError` if there is no such folder."""
    folder = sessions_dir(state_dir.expanduser())
    if not folder.is_dir():
        raise ValueError(f"{state_dir} is not a hermes-webui state folder (no sessions/ in it).")
    paths = sorted(
        p
        for p in folder.iterdir()
        if p.name.endswith(".json") and not p.name.startswith(("_", ".")) and p.is_file()
    )
    return [ImportItem(p.name, lambda p=p: read_file(p)) for p in paths]


def read_file(path: Path) -> ImportedSession:
    """The session in `path` (or its better `.bak`); Skipped or Unreadable with a reason."""
    backup = path.with_name(path.name + ".bak")
    try:
        data = load_json(path)
    except Unreadable as exc:
        recovered = _backup(backup)
        if recovered is None:
            raise
        return parse(recovered, fallback_id=path.stem, note=f"{exc} Imported its .bak instead.")
    recovered = _backup(backup)
    if recovered is not None and _count(recovered) > _count(data):
        note = (
            f"recovered {_count(recovered)} messages from its .bak (the file holds {_count(data)})"
        )
        return parse(recovered, fallback_id=path.stem, note=note)
    return parse(data, fallback_id=path.stem)


def load_json(path: Path) -> dict[str, Any]:
    """A session file's JSON object, or Unreadable saying what is wrong with it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise Unreadable(f"cannot be read ({exc.strerror or exc}).") from None
    return parse_bytes(raw)


def parse_bytes(raw: bytes) -> dict[str, Any]:
    """JSON bytes → a session object, or Unreadable in one sentence."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"is not UTF-8 text (bad byte at offset {exc.start}).") from None
    if not text.strip():
        raise Unreadable("is empty.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # A string running to the end of the file is cut off too, not just a missing bracket.
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise Unreadable(
                f"ends in the middle of the JSON (truncated at byte {len(raw):,})."
            ) from None
        raise Unreadable(
            f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(data, dict):
        raise Unreadable(f"holds a JSON {type(data).__name__}, not a session object.")
    return data


def parse(data: dict[str, Any], *, fallback_id: str, note: str | None = None) -> ImportedSession:
    """A hermes-webui session object → an ImportedSession; Skipped when it has no messages."""
    session_id = data.get("session_id")
    if not isinstance(session_id, str) or not session_id.strip():
        session_id = fallback_id
    raw_messages = data.get("messages")
    if raw_messages is not None and not isinstance(raw_messages, list):
        raise Unreadable("has a 'messages' field that is not a list.")
    created = to_datetime(data.get("created_at"))
    messages = convert(raw_messages or [], default_time=created)
    if not messages:
        raise Skipped("has no messages (a metadata-only stub or an unused chat).")
    updated = to_datetime(data.get("updated_at"), max(m.created_at for m in messages))
    title = data.get("title")
    title = title if isinstance(title, str) and title.strip() not in DEFAULT_TITLES else None
    model = data.get("model") if isinstance(data.get("model"), str) else None
    return ImportedSession(
        source=SOURCE,
        source_id=session_id[:200],
        title=title,
        created_at=created,
        updated_at=updated,
        messages=messages,
        pinned=data.get("pinned") is True,
        archived=data.get("archived") is True,
        model=model,
        note=note,
        aliases=[("hermes-cli", session_id[:200])],
    )


def _backup(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = load_json(path)
    except Unreadable:
        return None
    return data if isinstance(data.get("messages"), list) and data["messages"] else None


def _count(data: dict[str, Any]) -> int:
    messages = data.get("messages")
    return len(messages) if isinstance(messages, list) else 0
