"""The history sent to a model: live messages, made valid even after a run was cut short."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..providers.base import ChatMessage

UNFINISHED_TOOL = "This tool call did not finish (the run was stopped); its result is unknown."


def build_history(rows: Iterable[Mapping[str, Any]]) -> list[ChatMessage]:
    """Stored messages (oldest first) → provider messages.

    Every tool call gets exactly one result right after its assistant message — a run stopped
    mid-tool leaves calls without results, which providers reject — and empty assistant
    messages (a failure before any text) are left out.
    """
    history: list[ChatMessage] = []
    open_calls: dict[str, str] = {}
    for row in rows:
        role, content, parts = row["role"], row["content"], row["parts"] or []
        if role == "tool":
            call_id = next(
                (p.get("call_id") for p in parts if p.get("type") == "tool_result"), None
            )
            if call_id in open_calls:
                del open_calls[call_id]
                history.append(ChatMessage("tool", content, parts))
            continue
        _close_open_calls(history, open_calls)
        calls = [p for p in parts if p.get("type") == "tool_call"]
        if role == "assistant" and not content and not calls:
            continue
        history.append(ChatMessage(role, content, parts or None))
        open_calls = {p["id"]: p.get("name", "") for p in calls}
    _close_open_calls(history, open_calls)
    return history


def _close_open_calls(history: list[ChatMessage], open_calls: dict[str, str]) -> None:
    for call_id, name in open_calls.items():
        part = {"type": "tool_result", "call_id": call_id, "name": name, "is_error": True}
        history.append(ChatMessage("tool", UNFINISHED_TOOL, [part]))
    open_calls.clear()
