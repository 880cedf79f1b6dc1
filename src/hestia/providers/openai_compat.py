"""Any OpenAI-compatible endpoint (OpenAI, OpenRouter, Ollama, vLLM, llama.cpp, LM Studio)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson

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

if TYPE_CHECKING:
    import httpx


class OpenAICompatProvider:
    """Streams chat completions through the official `openai` SDK.

    Both requests go through the client's own `post`/`get`, not `client.chat` or
    `client.models`: the first use of those imports every resource of the SDK
    (`openai.resources`, ~10 MB), for two endpoints whose answers are read here as JSON anyway.
    The SDK still sends the request, applies the timeouts and maps HTTP errors.
    """

    name = "openai"

    def __init__(self, *, base_url: str, api_key: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        self._sdk_client: Any = None
        self._closed = False
        self._explain = Explainer(
            sdk="openai",
            where=f"the model provider at {self.base_url}",
            timeout=timeout,
            key_setting="HESTIA_OPENAI_API_KEY",
            url_setting="HESTIA_OPENAI_BASE_URL",
        )

    @property
    def _client(self) -> Any:
        """The SDK client, made on first use: importing the SDK costs most of a second."""
        if self._sdk_client is None:
            import openai

            # Local servers (Ollama, llama.cpp) need no key, but the SDK insists on one.
            self._sdk_client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self._api_key or "not-needed",
                timeout=openai.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                max_retries=0,
            )
        return self._sdk_client

    def warm(self) -> None:
        """Import the SDK ahead of the first request (called in a thread once serving)."""
        import openai  # noqa: F401

    @property
    def closed(self) -> bool:
        """Whether `aclose` was called (a client never made needs no closing)."""
        return self._closed

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        self._closed = True
        if self._sdk_client is not None:
            await self._sdk_client.close()

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
            # The SDK sends the request and maps HTTP errors; the chunks are read here as plain
            # JSON, because building the SDK's pydantic objects cost most of a token's CPU time.
            # `post` sends the body as it is: the typed `chat.completions.create` first walks
            # the whole request, every message of the history, to transform it (2 ms for ten
            # messages here, before the provider is even asked).
            import httpx  # loaded with the SDK

            response = await self._client.post(
                "/chat/completions",
                body=request,
                cast_to=httpx.Response,
                stream=True,
                stream_cls=None,
            )
            try:
                async for chunk in _chunks(response):
                    choices = chunk.get("choices")
                    if not choices:
                        continue
                    choice = choices[0]
                    delta = choice.get("delta") or {}
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if reasoning and isinstance(reasoning, str):
                        yield ReasoningDelta(reasoning)
                    content = delta.get("content")
                    if content:
                        yield TextDelta(content)
                    for piece in delta.get("tool_calls") or ():
                        # Calls arrive in pieces keyed by index: id and name first, then the
                        # arguments text in fragments.
                        call = calls.setdefault(
                            piece.get("index", 0), {"id": "", "name": "", "args": ""}
                        )
                        call["id"] = piece.get("id") or call["id"]
                        function = piece.get("function")
                        if function:
                            call["name"] += function.get("name") or ""
                            call["args"] += function.get("arguments") or ""
                    if choice.get("finish_reason"):
                        finish_reason = choice["finish_reason"]
            finally:
                await response.aclose()
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
            import httpx  # loaded with the SDK

            response = await self._client.get("/models", cast_to=httpx.Response)
            body = orjson.loads(response.content)
            items = body.get("data") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ValueError("a models list without `data`")
            status.models = sorted(
                (
                    ModelInfo(id=m["id"], provider=self.name)
                    for m in items
                    if isinstance(m, dict) and isinstance(m.get("id"), str)
                ),
                key=lambda m: m.id,
            )
        except Exception as exc:
            status.error = self._explain(exc, None).to_dict()
        return status


async def _chunks(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The JSON chunks of a Chat Completions SSE body, up to `[DONE]`.

    Like the SDK's own stream: an `error` object in the stream raises `openai.APIError`, and a
    chunk that is not JSON raises a ValueError.
    """
    data: list[str] = []
    event = None
    async for line in response.aiter_lines():
        if line:
            if line.startswith("data:"):
                data.append(line[5:].lstrip(" ") if len(line) > 5 else "")
            elif line.startswith("event:"):
                event = line[6:].strip()
            continue
        if not data:
            continue
        text = "\n".join(data)
        data = []
        if text.startswith("[DONE]"):
            return
        chunk = orjson.loads(text)
        if isinstance(chunk, dict) and (chunk.get("error") or event == "error"):
            import openai

            error = chunk.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            if not isinstance(message, str) or not message:
                message = "An error occurred during streaming"
            raise openai.APIError(message, response.request, body=error)
        event = None
        if isinstance(chunk, dict):
            yield chunk


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
