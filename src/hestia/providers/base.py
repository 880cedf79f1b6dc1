"""The provider seam: one protocol every model adapter implements, and what flows through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the history sent to a model."""

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
class Finished:
    """The model ended its answer normally; `reason` is the provider's finish reason."""

    reason: str


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

    def stream(self, messages: list[ChatMessage], *, model: str) -> AsyncIterator[StreamEvent]:
        """Stream the model's answer to `messages`; ends with one `Finished`."""
        ...

    async def list_models(self) -> ProviderStatus:
        """The models this provider offers, or an error saying why it cannot tell."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
