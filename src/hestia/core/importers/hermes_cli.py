"""Hermes Agent's `state.db` (the CLI's and gateway's sessions) → Hestia sessions.

The format, as read in hermes-agent 0.19.0's own source (`hermes_state.py`: `SCHEMA_SQL`,
`SessionDB.append_message`, `_encode_content`, `get_messages_as_conversation`,
`get_compression_tip`, `_BRANCH_CHILD_SQL`, `_ephemeral_child_sql`), schema version 22:

- `HERMES_HOME` (default `~/.hermes`) holds `state.db`, SQLite in WAL mode.
- `sessions`: `id` TEXT, `source` (`cli`, `telegram`, `discord`, …, `tool`), `model`,
  `model_config` (JSON text; `_delegate_from` marks a subagent run, `_branched_from` a /branch),
  `parent_session_id`, `started_at` / `ended_at` (epoch seconds), `end_reason`
  (`compression` when the context was compressed and the talk went on in a child session),
  `title`, `archived` (0/1), `message_count`, … There is no "pinned".
- `messages`: `id` INTEGER autoincrement (the true order), `session_id`, `role`, `content`
  (text; structured content is stored as `"\\x00json:" + json`), `tool_call_id`,
  `tool_calls` (JSON text, OpenAI shape), `tool_name`, `timestamp` (epoch seconds),
  `reasoning`, `active` (0 = rewound away, kept for audit), `compacted`, `api_content`, ….
- A conversation whose context was compressed continues in child sessions (`parent_session_id`
  set, parent `end_reason = 'compression'`); Hermes shows the chain root → tip as one
  transcript. Delegated subagent runs and `source = 'tool'` sessions hang off a parent too.

What this importer does with that:
- The database is opened read-only (`file:…?mode=ro` URI), never written. A WAL database
  opened even read-only makes SQLite create `state.db-wal` and `-shm` next to it, so when there
  is no `-wal` (Hermes is not running, everything is checkpointed) it is opened `immutable=1`
  as well, which creates nothing; when Hermes has it open (a `-wal` exists) it is read like any
  other WAL reader would, which never blocks Hermes.
- One Hestia session per conversation: each root session and each /branch, with the active
  messages of its compression continuations appended in order. Continuations, subagent runs
  and `tool` sessions are not sessions of their own. The source id is the root's id, so an
  import is idempotent; messages added to an already imported conversation later are not
  picked up by running it again.
- A conversation without any message is skipped with that reason.
- Older schemas: only `sessions.id`, `started_at`, `messages.session_id`, `role` and `content`
  are required; other columns are used when present.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import ImportedSession, ImportItem, Skipped, Unreadable, to_datetime
from .hermes_messages import convert

SOURCE = "hermes-cli"
DEFAULT_HOME = Path("~/.hermes")
JSON_PREFIX = "\x00json:"


class StateDb:
    """A read-only view of one `state.db`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        if not path.with_name(path.name + "-wal").exists():
            uri += "&immutable=1"  # nothing is written next to a database no one has open
        try:
            self.conn = sqlite3.connect(uri, uri=True, timeout=5.0)
            self.conn.row_factory = sqlite3.Row
            self.session_columns = self._columns("sessions")
            self.message_columns = self._columns("messages")
        except sqlite3.Error as exc:
            raise ValueError(f"{path} cannot be read as a Hermes state.db ({exc}).") from None
        missing = {"id", "started_at"} - self.session_columns
        missing |= {"session_id", "role", "content"} - self.message_columns
        if missing:
            self.conn.close()
            raise ValueError(
                f"{path} is not a Hermes state.db (missing columns: {', '.join(sorted(missing))})."
            )

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def _columns(self, table: str) -> set[str]:
        return {row["name"] for row in self.conn.execute(f"PRAGMA table_info({table})")}

    def _col(self, name: str, table: str = "sessions") -> str:
        columns = self.session_columns if table == "sessions" else self.message_columns
        return name if name in columns else f"NULL AS {name}"

    def sessions(self) -> dict[str, dict[str, Any]]:
        """Every session row by id, with the columns this importer uses."""
        names = ("source", "model", "model_config", "parent_session_id", "ended_at")
        names += ("end_reason", "title", "archived")
        columns = ", ".join(["id", "started_at", *(self._col(n) for n in names)])
        query = f"SELECT {columns} FROM sessions ORDER BY started_at, id"
        return {row["id"]: dict(row) for row in self.conn.execute(query)}

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        """The session's active messages in insertion order, decoded as Hermes decodes them."""
        names = ("tool_call_id", "tool_calls", "tool_name", "timestamp", "reasoning")
        columns = ", ".join(["role", "content", *(self._col(n, "messages") for n in names)])
        where = "session_id = ?" + (" AND active = 1" if "active" in self.message_columns else "")
        order = "id" if "id" in self.message_columns else "rowid"
        rows = self.conn.execute(
            f"SELECT {columns} FROM messages WHERE {where} ORDER BY {order}", (session_id,)
        )
        return [_decode(dict(row)) for row in rows]


def items(home: Path) -> tuple[StateDb, list[ImportItem]]:
    """The state.db of `home` (or a state.db path) and one item per conversation in it."""
    home = home.expanduser()
    path = home if home.is_file() else home / "state.db"
    if not path.is_file():
        raise ValueError(f"There is no Hermes state.db at {path}.")
    db = StateDb(path)
    try:
        rows = db.sessions()
    except sqlite3.Error as exc:
        db.close()
        raise ValueError(f"{path} cannot be read as a Hermes state.db ({exc}).") from None
    chains = conversations(rows)
    found = [
        ImportItem(f"session {root}", lambda c=chain: read(db, rows, c))
        for root, chain in chains.items()
    ]
    return db, found


def conversations(rows: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Root id → the session ids of its compression chain, root first."""
    continuation_of: dict[str, list[str]] = {}
    roots: list[str] = []
    for session_id, row in rows.items():
        parent = rows.get(row["parent_session_id"] or "")
        config = _config(row)
        if row["source"] == "tool" or "_delegate_from" in config:
            continue  # a subagent's run, shown inside its parent in Hermes
        if (
            parent is not None
            and parent["end_reason"] == "compression"
            and ("_branched_from" not in config)
        ):
            continuation_of.setdefault(parent["id"], []).append(session_id)
            continue
        roots.append(session_id)
    chains: dict[str, list[str]] = {}
    for root in roots:
        chain, current, seen = [root], root, {root}
        while continuation_of.get(current):
            # Several children of one compressed parent: the latest one carries the talk on.
            current = max(continuation_of[current], key=lambda c: rows[c]["started_at"] or 0)
            if current in seen:
                break
            seen.add(current)
            chain.append(current)
        chains[root] = chain
    return chains


def read(db: StateDb, rows: dict[str, dict[str, Any]], chain: list[str]) -> ImportedSession:
    """One conversation as an ImportedSession; Skipped when it holds no message."""
    root = rows[chain[0]]
    raw: list[dict[str, Any]] = []
    try:
        for session_id in chain:
            raw.extend(db.messages(session_id))
    except sqlite3.Error as exc:
        raise Unreadable(f"its messages cannot be read ({exc}).") from None
    created = to_datetime(root["started_at"])
    messages = convert(raw, default_time=created)
    if not messages:
        raise Skipped("has no messages.")
    last = rows[chain[-1]]
    updated = max(
        [m.created_at for m in messages] + [to_datetime(last["ended_at"], created), created]
    )
    title = next((rows[s]["title"] for s in chain if rows[s]["title"]), None)
    return ImportedSession(
        source=SOURCE,
        source_id=str(root["id"])[:200],
        title=title if isinstance(title, str) else None,
        created_at=created,
        updated_at=updated,
        messages=messages,
        archived=bool(root["archived"]),
        model=last["model"] or root["model"],
        aliases=[("hermes-webui", str(root["id"])[:200])],
        note=f"{len(chain)} segments after context compression" if len(chain) > 1 else None,
    )


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    content = row.get("content")
    if isinstance(content, str) and content.startswith(JSON_PREFIX):
        try:
            row["content"] = json.loads(content[len(JSON_PREFIX) :])
        except ValueError:
            row["content"] = content[len(JSON_PREFIX) :]
    if isinstance(row.get("tool_calls"), str):
        try:
            row["tool_calls"] = json.loads(row["tool_calls"])
        except ValueError:
            row["tool_calls"] = []
    return row


def _config(row: dict[str, Any]) -> dict[str, Any]:
    try:
        config = json.loads(row["model_config"] or "{}")
    except (TypeError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}
