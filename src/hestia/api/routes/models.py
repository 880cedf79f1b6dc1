"""`GET /api/models`: what the configured providers offer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...core import runtimes
from ..deps import ServicesDep
from ..responses import ModelList

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models", response_model=ModelList)
async def list_models(services: ServicesDep) -> dict[str, Any]:
    """Every provider's models; a provider that cannot be reached says why in `providers`."""
    await services.preferences.sync_providers()
    statuses = await services.providers.statuses()
    return {
        "default_runtime": await services.preferences.default_runtime(),
        "runtimes": [r.view() for r in runtimes.statuses()],
        "default_model": await services.preferences.default_model(),
        "models": [{"id": m.id, "provider": m.provider} for s in statuses for m in s.models],
        "providers": [
            {"name": s.name, "base_url": s.base_url, "ok": s.error is None, "error": s.error}
            for s in statuses
        ],
    }
