"""Which provider serves which model, built once from the settings."""

from __future__ import annotations

import asyncio

from ..config import Settings
from .base import Provider, ProviderStatus
from .openai_compat import OpenAICompatProvider


class ProviderRegistry:
    """Holds the configured providers and picks one for a model name."""

    def __init__(self, providers: list[Provider], *, mode: str = "auto") -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self._providers = providers
        self.mode = mode

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderRegistry:
        """The providers the settings configure."""
        providers: list[Provider] = [
            OpenAICompatProvider(
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key,
                timeout=settings.provider_timeout,
            )
        ]
        if (
            settings.anthropic_api_key
            or settings.anthropic_base_url
            or settings.provider == "anthropic"
        ):
            # Imported only when configured: the SDK costs ~1 s of start-up and ~30 MB of RSS.
            from .anthropic import AnthropicProvider

            providers.append(
                AnthropicProvider(
                    api_key=settings.anthropic_api_key,
                    base_url=settings.anthropic_base_url,
                    timeout=settings.provider_timeout,
                    thinking_budget=settings.anthropic_thinking_budget,
                )
            )
        return cls(providers, mode=settings.provider)

    def _named(self, name: str) -> Provider | None:
        return next((p for p in self._providers if p.name == name), None)

    def for_model(self, model: str) -> Provider:
        """The provider that serves `model`: the forced one, else `claude*` goes to Anthropic."""
        if self.mode in ("openai", "anthropic"):
            forced = self._named(self.mode)
            if forced is not None:
                return forced
        elif model.lower().startswith("claude"):
            anthropic = self._named("anthropic")
            if anthropic is not None:
                return anthropic
        return self._named("openai") or self._providers[0]

    async def statuses(self) -> list[ProviderStatus]:
        """Every provider's models, asked concurrently."""
        return list(await asyncio.gather(*(p.list_models() for p in self._providers)))

    async def warm(self) -> None:
        """Load the providers' SDKs in a thread, so start-up does not wait for them."""
        for provider in self._providers:
            warm = getattr(provider, "warm", None)
            if warm is not None:
                await asyncio.to_thread(warm)

    async def aclose(self) -> None:
        """Close every provider's connections."""
        for provider in self._providers:
            await provider.aclose()
