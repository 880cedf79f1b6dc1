"""Any OpenAI-compatible endpoint (OpenAI, OpenRouter, Ollama, vLLM, llama.cpp, LM Studio)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import openai
from openai import AsyncOpenAI

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


class OpenAICompatProvider:
    """Streams chat completions through the official `openai` SDK."""

    name = "openai"

    def __init__(self, *, base_url: str, api_key: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # Local servers (Ollama, llama.cpp) need no key, but the SDK insists on one.
        self._client = AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or "not-needed",
            timeout=openai.Timeout(timeout, connect=min(timeout, 10.0)),
            max_retries=0,
        )
        self._explain = Explainer(
            sdk=openai,
            where=f"the model provider at {self.base_url}",
            timeout=timeout,
            key_setting="HESTIA_OPENAI_API_KEY",
            url_setting="HESTIA_OPENAI_BASE_URL",
        )

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    async def stream(
        self, messages: list[ChatMessage], *, model: str, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[StreamEvent]:
        """Stream one step; every failure becomes a `ProviderError` a person can act on."""
        request: dict[str, Any] = {
            "model": model,
            "messages": [_to_openai(m) for m in messages],
            "stream": True,
        }
        if tools:
            request["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in tools
            ]
        finish_reason: str | None = None
        calls: dict[int, dict[str, str]] = {}
        try:
            stream = await self._client.chat.completions.create(**request)
            async with stream:
                async for chunk in stream:
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    delta = choice.delta
                    reasoning = _reasoning_of(delta)
                    if reasoning:
                        yield ReasoningDelta(reasoning)
                    if delta is not None and delta.content:
                        yield TextDelta(delta.content)
                    for piece in (delta.tool_calls if delta is not None else None) or ():
                        # Calls arrive in pieces keyed by index: id and name first, then the
                        # arguments text in fragments.
                        call = calls.setdefault(piece.index, {"id": "", "name": "", "args": ""})
                        call["id"] = piece.id or call["id"]
                        if piece.function is not None:
                            call["name"] += piece.function.name or ""
                            call["args"] += piece.function.arguments or ""
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        except ProviderError:
            raise
        except Exception as exc:  # every failure of the SDK or the wire ends here
            raise self._explain(exc, model) from exc
        if finish_reason is None:
            raise ProviderError(
                "The model provider's stream ended before the answer was finished.",
                code="provider_stream_incomplete",
            )
        tool_calls = tuple(
            ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments=c["args"] or "{}")
            for i, c in sorted(calls.items())
            if c["name"]
        )
        yield Finished(finish_reason, tool_calls=tool_calls)

    async def list_models(self) -> ProviderStatus:
        """Ask the endpoint for its models (`GET /models`)."""
        status = ProviderStatus(name=self.name, base_url=self.base_url)
        try:
            page = await self._client.models.list()
            status.models = sorted(
                (ModelInfo(id=m.id, provider=self.name) for m in page.data), key=lambda m: m.id
            )
        except Exception as exc:
            status.error = self._explain(exc, None).to_dict()
        return status


def _reasoning_of(delta: Any) -> str | None:
    # Not in the OpenAI schema: DeepSeek, vLLM, llama.cpp and others send it as an extra field.
    if delta is None:
        return None
    extra = getattr(delta, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning")
    return value if isinstance(value, str) and value else None


def _to_openai(message: ChatMessage) -> dict[str, Any]:
    """A stored message in the Chat Completions shape (other providers' parts are left out)."""
    parts = message.parts or []
    if message.role == "tool":
        call_id = next((p["call_id"] for p in parts if p.get("type") == "tool_result"), "")
        return {"role": "tool", "tool_call_id": call_id, "content": message.content}
    calls = [p for p in parts if p.get("type") == "tool_call"]
    if message.role == "assistant" and calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in calls
            ],
        }
    return {"role": message.role, "content": message.content}
