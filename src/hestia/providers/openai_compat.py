"""Any OpenAI-compatible endpoint (OpenAI, OpenRouter, Ollama, vLLM, llama.cpp, LM Studio)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import ProviderError

if TYPE_CHECKING:
    import openai

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


class OpenAICompatProvider:
    """Streams chat completions through the official `openai` SDK."""

    name = "openai"

    def __init__(self, *, base_url: str, api_key: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        self._sdk_client: Any = None

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

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
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
            raw = self._client.chat.completions.with_streaming_response.create(**request)
            async with raw as response:
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

    def _explain(self, exc: BaseException, model: str | None) -> ProviderError:
        import openai

        where = f"the model provider at {self.base_url}"
        if isinstance(exc, openai.APITimeoutError) or "Timeout" in type(exc).__name__:
            return ProviderError(
                f"No answer from {where} within {self.timeout:g} "
                f"second{'' if self.timeout == 1 else 's'}.",
                code="provider_timeout",
            )
        if isinstance(exc, openai.APIStatusError):
            return _explain_status(exc, where, model)
        if isinstance(exc, openai.APIConnectionError) and not _broke_mid_body(exc):
            return ProviderError(
                f"Could not connect to {where}. Is it running, and is "
                "HESTIA_OPENAI_BASE_URL right?",
                code="provider_unreachable",
            )
        if isinstance(exc, openai.APIConnectionError) or _is_transport_error(exc):
            return ProviderError(
                f"The connection to {where} broke off in the middle of the answer.",
                code="provider_stream_broken",
            )
        if isinstance(exc, openai.APIError) and not isinstance(
            exc, openai.APIResponseValidationError
        ):
            # An error sent inside the 200 stream (`data: {"error": ...}`), e.g. by OpenRouter.
            return _explain_stream_error(exc, where)
        if isinstance(exc, ValueError | openai.APIResponseValidationError):
            # The SDK lets json.JSONDecodeError (a ValueError) through for a malformed chunk.
            return ProviderError(
                f"{_cap(where)} sent a response Hestia could not read.",
                code="provider_bad_response",
            )
        return ProviderError(
            f"{_cap(where)} failed: {type(exc).__name__}: {exc}", code="provider_error"
        )


def _explain_status(exc: openai.APIStatusError, where: str, model: str | None) -> ProviderError:
    detail = _provider_message(exc)
    status = exc.status_code
    if status == 401:
        return ProviderError(
            f"{_cap(where)} rejected the API key (401). Check HESTIA_OPENAI_API_KEY.",
            code="provider_auth_failed",
        )
    if status == 403:
        return ProviderError(
            f"{_cap(where)} refused access (403): {detail}", code="provider_forbidden"
        )
    if status == 404:
        what = f"The model '{model}'" if model else "The models list"
        return ProviderError(
            f"{what} was not found at {where} (404). Pick another model in settings.",
            code="model_not_found",
        )
    if status == 429:
        return ProviderError(
            f"{_cap(where)} is rate-limiting requests (429). Wait a moment and retry.",
            code="provider_rate_limited",
        )
    if status >= 500:
        return ProviderError(
            f"{_cap(where)} had an internal error ({status}): {detail}",
            code="provider_server_error",
        )
    return ProviderError(
        f"{_cap(where)} refused the request ({status}): {detail}",
        code="provider_bad_request",
    )


def _explain_stream_error(exc: openai.APIError, where: str) -> ProviderError:
    """An error the endpoint reported inside its stream, after the 200 answer had begun."""
    body = exc.body if isinstance(exc.body, dict) else {}
    kind = f"{body.get('type', '')} {body.get('code', '')}".lower()
    if any(word in kind for word in ("overloaded", "rate_limit", "429", "529")):
        return ProviderError(
            f"{_cap(where)} is overloaded and stopped in the middle of the answer. "
            "Wait a moment and retry.",
            code="provider_rate_limited",
        )
    return ProviderError(
        f"{_cap(where)} reported an error in the middle of the answer: {exc.message[:300]}",
        code="provider_server_error",
    )


def _provider_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if isinstance(message, str) and message:
            return message[:300]
    return exc.message[:300]


def _cap(text: str) -> str:
    """`text` with its first letter upper-cased (`str.capitalize` would lower the rest: the URL)."""
    return text[:1].upper() + text[1:]


def _broke_mid_body(exc: BaseException) -> bool:
    """Whether a connection error happened after the response began (vs. never connecting)."""
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ in ("RemoteProtocolError", "ReadError")


def _is_transport_error(exc: BaseException) -> bool:
    # The SDK's HTTP client is httpx or its successor httpx2, depending on the SDK version.
    return type(exc).__module__.split(".")[0] in ("httpx", "httpx2")


async def _chunks(response: Any) -> AsyncIterator[dict[str, Any]]:
    """The JSON chunks of a Chat Completions SSE body, up to `[DONE]`.

    Like the SDK's own stream: an `error` object in the stream raises `openai.APIError`, and a
    chunk that is not JSON raises a ValueError.
    """
    data: list[str] = []
    event = None
    async for line in response.iter_lines():
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
            raise openai.APIError(message, response.http_request, body=error)
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
