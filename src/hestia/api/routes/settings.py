"""Settings saved from the app (the environment overrides them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import ServicesDep
from ..responses import SettingsView
from ..schemas import SettingsPatch

router = APIRouter(prefix="/api/settings", tags=["settings"])


@router.get("", response_model=SettingsView)
async def get_settings(services: ServicesDep) -> dict[str, Any]:
    """The effective settings (keys masked, `*_locked` when set by the environment), whether a
    provider is configured, and the approvals remembered for every session."""
    return await services.preferences.view()


@router.patch("", response_model=SettingsView)
async def patch_settings(body: SettingsPatch, services: ServicesDep) -> dict[str, Any]:
    """Change provider settings, the default model, approval policy or theme; providers are
    rebuilt at once, without a restart."""
    return await services.preferences.update(body.model_dump(exclude_unset=True))


@router.delete("/always-allowed/{grant_id}", response_model=SettingsView)
async def forget_grant(grant_id: str, services: ServicesDep) -> dict[str, Any]:
    """Stop always allowing what was approved with "always"."""
    await services.preferences.forget_grant(grant_id)
    return await services.preferences.view()
