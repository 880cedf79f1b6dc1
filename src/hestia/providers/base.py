"""The provider seam: one protocol every model adapter implements, and what flows through it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the history sent to a model.

    `parts` follow the stored message: an assistant message may hold
    `{"type": "tool_call", "id", "name", "arguments"}` and provider parts such as
    `{"type": "thinking", "text", "signature"}`; a `tool` message holds one
    `{"type": "tool_result", "call_id", "name", "is_error"}` and its output as `content`.
    """

    role: str
    content: str
    parts: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's visible reasoning ("thinking")."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model asked for; `arguments` is the JSON text exactly as the model wrote it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The model ended this step: with an answer, or asking for `tool_calls`.

    `parts` carries provider-specific pieces that must be sent back verbatim in later turns
    (e.g. Anthropic's signed thinking blocks), stored on the assistant message.
    """

    reason: str
    tool_calls: tuple[ToolCall, ...] = ()
    parts: tuple[dict[str, Any], ...] = ()


StreamEvent = TextDelta | ReasoningDelta | Finished


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model a provider offers."""

    id: str
    provider: str


@dataclass(slots=True)
class ProviderStatus:
    """What `list_models` found: the models, or why there are none."""

    name: str
    base_url: str | None
    models: list[ModelInfo] = field(default_factory=list)
    error: dict[str, str] | None = None


class Provider(Protocol):
    """A model provider. Failures raise `hestia.errors.ProviderError` with a readable message."""

    name: str

    def stream(
        self, messages: list[ChatMessage], *, model: str, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[StreamEvent]:
        """Stream the model's next step for `messages`; ends with one `Finished`."""
        ...

    async def list_models(self) -> ProviderStatus:
        """The models this provider offers, or an error saying why it cannot tell."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
