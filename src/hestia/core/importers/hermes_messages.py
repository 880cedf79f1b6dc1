"""Hermes' messages (OpenAI chat format, sometimes Anthropic content blocks) → Hestia messages.

Both hermes-webui's session files and Hermes' `state.db` keep the agent's own message dicts:

- `{"role": "user"|"assistant"|"system", "content": str | [blocks] | null}`;
- an assistant's tool calls as `tool_calls: [{"id", "type": "function",
  "function": {"name", "arguments": "<json text>"}}]`, or — from Anthropic models — as
  `{"type": "tool_use", "id", "name", "input": {...}}` blocks inside `content`;
- a tool's result as `{"role": "tool", "tool_call_id", "content"}` (hermes-webui may also
  write `tool_use_id`; state.db adds `tool_name`), or a `tool_result` block in a user message;
- `reasoning` (text) on assistant messages; `timestamp` / `_ts` in epoch seconds.

Hestia keeps tool calls as parts (core/engine.py): the assistant message gets
`{"type": "tool_call", "id", "name", "arguments": "<json text>"}` and each result is a `tool`
message with `[{"type": "tool_result", "call_id", "name", "is_error"}]`. Reasoning becomes a
`{"type": "reasoning", "text"}` part, which providers leave out of the history they send.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from . import ImportedMessage, to_datetime


def convert(raw_messages: list[Any], *, default_time: datetime) -> list[ImportedMessage]:
    """Every message Hestia can show, in order; anything that is not a message is left out."""
    out: list[ImportedMessage] = []
    names: dict[str, str] = {}  # call id → tool name, for results that do not say
    when = default_time
    for raw in raw_messages:
        if not isinstance(raw, dict):
            continue
        role = raw.get("role")
        when = to_datetime(raw.get("timestamp") or raw.get("_ts"), when)
        if role == "tool":
            out.append(_tool_result(raw, names, when))
        elif role in ("user", "assistant", "system"):
            out.extend(_message(role, raw, names, when))
    return out


def _message(
    role: str, raw: dict[str, Any], names: dict[str, str], when: datetime
) -> list[ImportedMessage]:
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    results: list[ImportedMessage] = []
    content = raw.get("content")
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                texts.append(block)
            elif not isinstance(block, dict):
                continue
            elif block.get("type") in ("text", "input_text", "output_text"):
                texts.append(str(block.get("text") or ""))
            elif block.get("type") == "tool_use":
                parts.append(_call(block.get("id"), block.get("name"), block.get("input"), names))
            elif block.get("type") == "tool_result":
                results.append(_block_result(block, names, when))
            elif block.get("type") in ("image_url", "image", "input_image"):
                texts.append("[image]")
    for call in raw.get("tool_calls") or []:
        if isinstance(call, dict):
            function = call.get("function") if isinstance(call.get("function"), dict) else {}
            parts.append(
                _call(
                    call.get("id") or call.get("call_id"),
                    function.get("name") or call.get("name"),
                    function.get("arguments", call.get("arguments")),
                    names,
                )
            )
    reasoning = raw.get("reasoning") or raw.get("reasoning_content")
    if role == "assistant" and isinstance(reasoning, str) and reasoning.strip():
        parts.insert(0, {"type": "reasoning", "text": reasoning})
    text = "\n\n".join(t for t in texts if t)
    messages = []
    if text or parts or not results:
        messages.append(ImportedMessage(role=role, content=text, parts=parts, created_at=when))
    return messages + results


def _call(call_id: Any, name: Any, arguments: Any, names: dict[str, str]) -> dict[str, Any]:
    call_id = str(call_id or f"call_{len(names) + 1}")
    name = str(name or "tool")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
    names[call_id] = name
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def _tool_result(raw: dict[str, Any], names: dict[str, str], when: datetime) -> ImportedMessage:
    call_id = str(raw.get("tool_call_id") or raw.get("tool_use_id") or "")
    name = str(raw.get("tool_name") or raw.get("name") or names.get(call_id) or "tool")
    return ImportedMessage(
        role="tool",
        content=_text(raw.get("content")),
        parts=[{"type": "tool_result", "call_id": call_id, "name": name, "is_error": False}],
        created_at=when,
    )


def _block_result(block: dict[str, Any], names: dict[str, str], when: datetime) -> ImportedMessage:
    call_id = str(block.get("tool_use_id") or "")
    part = {
        "type": "tool_result",
        "call_id": call_id,
        "name": names.get(call_id, "tool"),
        "is_error": bool(block.get("is_error")),
    }
    return ImportedMessage(
        role="tool", content=_text(block.get("content")), parts=[part], created_at=when
    )


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n\n".join(
            str(b.get("text") or "") if isinstance(b, dict) else str(b) for b in content
        )
    return json.dumps(content, ensure_ascii=False)
