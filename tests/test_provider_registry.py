"""The provider registry follows settings changes: new providers at once, old clients closed —
but never under a run that still streams from them."""

from __future__ import annotations

from hestia.config import Settings
from hestia.providers.registry import ProviderRegistry


def settings(**values) -> Settings:
    return Settings(openai_base_url="http://127.0.0.1:9/v1", model="m", **values)


def closed(provider) -> bool:
    return provider.closed


async def test_same_settings_keep_the_providers():
    registry = ProviderRegistry.from_settings(settings(openai_api_key="a"))
    before = registry.for_model("m")
    assert await registry.configure(settings(openai_api_key="a")) is False
    assert registry.for_model("m") is before and not closed(before)
    await registry.aclose()


async def test_a_change_replaces_and_closes_an_unused_provider():
    registry = ProviderRegistry.from_settings(settings(openai_api_key="a"))
    old = registry.for_model("m")
    assert await registry.configure(settings(openai_api_key="b")) is True
    new = registry.for_model("m")
    assert new is not old and closed(old) and not closed(new)
    await registry.aclose()
    assert closed(new)


async def test_a_provider_in_use_is_closed_when_its_last_run_releases_it():
    registry = ProviderRegistry.from_settings(settings(openai_api_key="a"))
    first = registry.acquire("m")
    second = registry.acquire("m")
    assert first is second
    await registry.configure(settings(openai_api_key="b"))
    assert not closed(first)  # two runs still stream from it
    await registry.release(first)
    assert not closed(first)
    await registry.release(second)
    assert closed(first)
    current = registry.acquire("m")
    await registry.release(current)
    assert not closed(current)  # the current provider stays open after its runs
    await registry.aclose()


async def test_an_anthropic_key_adds_the_anthropic_provider():
    registry = ProviderRegistry.from_settings(settings())
    assert registry.for_model("claude-x").name == "openai"
    await registry.configure(settings(anthropic_api_key="k"))
    assert registry.for_model("claude-x").name == "anthropic"
    assert registry.for_model("m").name == "openai"
    await registry.aclose()
