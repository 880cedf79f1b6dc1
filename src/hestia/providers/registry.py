"""Which provider serves which model, built once from the settings."""

from __future__ import annotations

import asyncio

from ..config import Settings
from .base import Provider, ProviderStatus
from .openai_compat import OpenAICompatProvider


class ProviderRegistry:
    """Holds the configured providers and picks one for a model name."""

    def __init__(self, providers: list[Provider]) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self._providers = providers

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderRegistry:
        """The providers the settings configure."""
        return cls(
            [
                OpenAICompatProvider(
                    base_url=settings.openai_base_url,
                    api_key=settings.openai_api_key,
                    timeout=settings.provider_timeout,
                )
            ]
        )

    def for_model(self, model: str) -> Provider:
        """The provider that serves `model` (the OpenAI-compatible one unless another claims it)."""
        return self._providers[0]

    async def statuses(self) -> list[ProviderStatus]:
        """Every provider's models, asked concurrently."""
        return list(await asyncio.gather(*(p.list_models() for p in self._providers)))

    async def aclose(self) -> None:
        """Close every provider's connections."""
        for provider in self._providers:
            await provider.aclose()
