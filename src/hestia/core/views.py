"""The public shape of sessions, messages and runs (DESIGN §5), built from store rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..ids import iso


def session_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A Session object (no messages)."""
    return {
        "id": row["id"],
        "title": row["title"],
        "model": row["model"],
        "runtime": row["runtime"],
        "workspace": row["workspace"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "pinned": bool(row["pinned"]),
        "archived": bool(row["archived"]),
        "trashed": row["trashed_at"] is not None,
        "message_count": row["message_count"],
        "active_run_id": row.get("active_run_id"),
        "approval_policy": row["approval_policy"],
    }


def message_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A Message object."""
    return {
        "id": row["id"],
        "seq": row["seq"],
        "role": row["role"],
        "content": row["content"],
        "status": row["status"],
        "run_id": row["run_id"],
        "superseded": bool(row["superseded"]),
        "created_at": iso(row["created_at"]),
        "parts": row["parts"] or [],
    }


def run_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A Run object."""
    run_input = row["input"] or {}
    return {
        "id": row["id"],
        "session_id": row["session_id"],
        "status": row["status"],
        "kind": row["kind"],
        "model": run_input.get("model"),
        "created_at": iso(row["created_at"]),
        "started_at": iso(row["started_at"]),
        "finished_at": iso(row["finished_at"]),
        "error": row["error"],
        "last_event_id": row["last_event_id"],
        "cancel_requested": bool(row["cancel_requested"]),
        "user_message_id": row["user_message_id"],
        "assistant_message_id": row["assistant_message_id"],
        "input": {"content": run_input.get("content", "")},
    }
