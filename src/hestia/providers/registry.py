"""Which provider serves which model, built from the settings and rebuilt when they change."""

from __future__ import annotations

import asyncio

from ..config import Settings
from .base import Provider, ProviderStatus
from .openai_compat import OpenAICompatProvider


class ProviderRegistry:
    """Holds the configured providers and picks one for a model name."""

    def __init__(
        self, providers: list[Provider], *, mode: str = "auto", fingerprint: tuple = ()
    ) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self._providers = providers
        self.mode = mode
        self._fingerprint = fingerprint
        # Providers replaced by a settings change stay open while a run still streams from
        # them, and are closed when the last such run releases them.
        self._uses: dict[int, int] = {}
        self._retired: list[Provider] = []
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderRegistry:
        """The providers the settings configure."""
        return cls(_build(settings), mode=settings.provider, fingerprint=_fingerprint(settings))

    async def configure(self, settings: Settings) -> bool:
        """Use the providers `settings` describe from now on, if they differ; True if rebuilt."""
        async with self._lock:
            fingerprint = _fingerprint(settings)
            if fingerprint == self._fingerprint:
                return False
            old = self._providers
            self._providers = _build(settings)
            self.mode = settings.provider
            self._fingerprint = fingerprint
            for provider in old:
                if self._uses.get(id(provider), 0) > 0:
                    self._retired.append(provider)
                else:
                    await provider.aclose()
            return True

    def acquire(self, model: str) -> Provider:
        """`for_model`, held until `release`: a settings change does not close it meanwhile."""
        provider = self.for_model(model)
        self._uses[id(provider)] = self._uses.get(id(provider), 0) + 1
        return provider

    async def release(self, provider: Provider) -> None:
        """A run is done with `provider`; close it if it was replaced and nothing else uses it."""
        left = self._uses.get(id(provider), 1) - 1
        if left > 0:
            self._uses[id(provider)] = left
            return
        self._uses.pop(id(provider), None)
        if provider in self._retired:
            self._retired.remove(provider)
            await provider.aclose()

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
        for provider in [*self._providers, *self._retired]:
            await provider.aclose()
        self._retired.clear()


def _fingerprint(settings: Settings) -> tuple:
    return (
        settings.openai_base_url,
        settings.openai_api_key,
        settings.anthropic_api_key,
        settings.anthropic_base_url,
        settings.provider,
        settings.provider_timeout,
        settings.anthropic_thinking_budget,
    )


def _build(settings: Settings) -> list[Provider]:
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
    return providers
