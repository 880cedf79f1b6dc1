"""Anthropic's Messages API (Claude), through the official `anthropic` SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anthropic
from anthropic import AsyncAnthropic

from ..errors import ProviderError
from .base import (
    ChatMessage,
    Finished,
    ModelInfo,
    ProviderStatus,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolSpec,
)
from .errors import Explainer

DEFAULT_BASE_URL = "https://api.anthropic.com"
MAX_TOKENS = 8192


class AnthropicProvider:
    """Streams Claude's messages, thinking and tool calls."""

    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float,
        thinking_budget: int = 0,
    ) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.thinking_budget = thinking_budget
        # A proxy or test server given only by URL may need no key, but the SDK insists on one.
        self._client = AsyncAnthropic(
            api_key=api_key or "not-needed",
            base_url=self.base_url,
            timeout=anthropic.Timeout(timeout, connect=min(timeout, 10.0)),
            max_retries=0,
        )
        self._explain = Explainer(
            sdk="anthropic",
            where=f"the Anthropic API at {self.base_url}",
            timeout=timeout,
            key_setting="ANTHROPIC_API_KEY",
            url_setting="HESTIA_ANTHROPIC_BASE_URL",
        )

    @property
    def closed(self) -> bool:
        """Whether `aclose` was called."""
        return self._client.is_closed()

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    async def stream(
        self, messages: list[ChatMessage], *, model: str, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[StreamEvent]:
        """Stream one step; every failure becomes a `ProviderError` a person can act on."""
        system, turns = to_anthropic(messages)
        request: dict[str, Any] = {
            "model": model,
            "messages": turns,
            "max_tokens": MAX_TOKENS,
            "stream": True,
        }
        if system:
            request["system"] = system
        if tools:
            request["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
        if self.thinking_budget > 0:
            request["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
            # max_tokens counts the thinking too and must exceed the budget; keep room to answer.
            request["max_tokens"] = self.thinking_budget + MAX_TOKENS
        stop_reason: str | None = None
        stopped = False
        blocks: dict[int, dict[str, Any]] = {}
        try:
            stream = await self._client.messages.create(**request)
            async with stream:
                async for event in stream:
                    kind = event.type
                    if kind == "content_block_start":
                        blocks[event.index] = _start_block(event.content_block)
                    elif kind == "content_block_delta":
                        block = blocks.setdefault(event.index, {"type": "unknown"})
                        delta = event.delta
                        if delta.type == "text_delta":
                            yield TextDelta(delta.text)
                        elif delta.type == "thinking_delta":
                            block["text"] = block.get("text", "") + delta.thinking
                            yield ReasoningDelta(delta.thinking)
                        elif delta.type == "signature_delta":
                            block["signature"] = block.get("signature", "") + delta.signature
                        elif delta.type == "input_json_delta":
                            block["args"] = block.get("args", "") + delta.partial_json
                    elif kind == "message_delta":
                        stop_reason = event.delta.stop_reason or stop_reason
                    elif kind == "message_stop":
                        stopped = True
        except ProviderError:
            raise
        except Exception as exc:  # every failure of the SDK or the wire ends here
            raise self._explain(exc, model) from exc
        if not stopped or stop_reason is None:
            raise ProviderError(
                "The model provider's stream ended before the answer was finished.",
                code="provider_stream_incomplete",
            )
        ordered = [blocks[i] for i in sorted(blocks)]
        yield Finished(stop_reason, tool_calls=_tool_calls(ordered), parts=_kept_parts(ordered))

    async def list_models(self) -> ProviderStatus:
        """Ask the API for its models (`GET /v1/models`)."""
        status = ProviderStatus(name=self.name, base_url=self.base_url)
        try:
            # Iterating the pager follows `has_more`; the first page alone holds only 20.
            models = [
                ModelInfo(id=m.id, provider=self.name) async for m in self._client.models.list()
            ]
            status.models = sorted(models, key=lambda m: m.id)
        except Exception as exc:
            status.error = self._explain(exc, None).to_dict()
        return status


def _start_block(block: Any) -> dict[str, Any]:
    """Our running record of one content block, from its `content_block_start`."""
    kind = block.type
    if kind == "tool_use":
        # `input` is `{}` at the start; the arguments arrive as input_json_delta pieces.
        return {"type": kind, "id": block.id, "name": block.name, "args": ""}
    if kind == "thinking":
        return {"type": kind, "text": block.thinking or "", "signature": block.signature or ""}
    if kind == "redacted_thinking":
        return {"type": kind, "data": block.data}
    return {"type": kind}


def _tool_calls(blocks: list[dict[str, Any]]) -> tuple[ToolCall, ...]:
    return tuple(
        ToolCall(id=b["id"], name=b["name"], arguments=b["args"] or "{}")
        for b in blocks
        if b["type"] == "tool_use"
    )


def _kept_parts(blocks: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Thinking blocks, which the API wants back unchanged in later turns."""
    parts: list[dict[str, Any]] = []
    for b in blocks:
        if b["type"] == "thinking":
            parts.append({"type": "thinking", "text": b["text"], "signature": b["signature"]})
        elif b["type"] == "redacted_thinking":
            parts.append({"type": "redacted_thinking", "data": b["data"]})
    return tuple(parts)


def to_anthropic(messages: list[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """The system prompt and the strictly alternating user/assistant turns of `messages`."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            if message.content:
                system.append(message.content)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            # The API refuses empty content; an empty turn adds nothing anyway.
            continue
        if turns and turns[-1]["role"] == role:
            # The API insists on alternation: tool results and a following user text share a turn.
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return "\n\n".join(system), turns


def _blocks(message: ChatMessage) -> list[dict[str, Any]]:
    """One stored message as Anthropic content blocks (OpenAI-only parts are left out)."""
    parts = message.parts or []
    if message.role == "tool":
        result = next((p for p in parts if p.get("type") == "tool_result"), {})
        return [
            {
                "type": "tool_result",
                "tool_use_id": result.get("call_id", ""),
                "content": message.content,
                "is_error": bool(result.get("is_error", False)),
            }
        ]
    if message.role != "assistant":
        return [{"type": "text", "text": message.content}] if message.content else []
    blocks: list[dict[str, Any]] = []
    for p in parts:
        # Signed thinking goes back exactly as received, ahead of everything else.
        if p.get("type") == "thinking":
            blocks.append({"type": "thinking", "thinking": p["text"], "signature": p["signature"]})
        elif p.get("type") == "redacted_thinking":
            blocks.append({"type": "redacted_thinking", "data": p["data"]})
    if message.content.strip():
        blocks.append({"type": "text", "text": message.content})
    for p in parts:
        if p.get("type") == "tool_call":
            blocks.append(
                {
                    "type": "tool_use",
                    "id": p["id"],
                    "name": p["name"],
                    "input": _arguments(p.get("arguments")),
                }
            )
    return blocks


def _arguments(text: Any) -> dict[str, Any]:
    """The call's arguments as an object; `{}` when the model wrote something unparseable."""
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
