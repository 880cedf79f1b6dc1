"""Settings a person changes in the app: saved in the database; the environment overrides them.

Provider settings (base URL, keys, default model) are read from the database whenever they
matter — a run starting, the model list — so a change saved by any process is used from the
next run on, without a restart. API keys are never returned in full and never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncConnection

from ..config import Settings
from ..errors import BadRequest, Conflict, NotFound
from ..ids import iso, utcnow
from ..providers.registry import ProviderRegistry
from ..store import approvals as approval_store
from ..store import settings as settings_store
from ..store.db import Database
from . import runtimes
from .approvals import POLICIES

DEFAULT_POLICY = "dangerous"
log = logging.getLogger(__name__)
THEMES = ("system", "light", "dark")
DEFAULT_OPENAI_BASE_URL = Settings.model_fields["openai_base_url"].default
# Saved under the `Settings` field name, so "locked" is simply "the environment set that field".
PROVIDER_FIELDS = ("openai_base_url", "openai_api_key", "model", "anthropic_api_key")
SECRET_FIELDS = ("openai_api_key", "anthropic_api_key")
# The API's names for the saved fields (`model` is the default model).
API_NAMES = {
    "openai_base_url": "openai_base_url",
    "openai_api_key": "openai_api_key",
    "default_model": "model",
    "anthropic_api_key": "anthropic_api_key",
    "approval_policy": "approval_policy",
    "theme": "theme",
    "runtime": "runtime",
}


def mask_key(key: str | None) -> str | None:
    """Enough of a key to recognise it (`sk-…abcd`), never enough to use it."""
    if not key:
        return None
    if len(key) < 12:
        return "…"
    return f"{key[:3]}…{key[-4:]}"


def provider_configured(settings: Settings) -> bool:
    """Whether a model provider was set up: a key, or a base URL other than OpenAI's own
    (a local server such as Ollama needs no key). OpenAI without a key cannot answer."""
    if settings.openai_api_key or settings.anthropic_api_key or settings.anthropic_base_url:
        return True
    return settings.openai_base_url.rstrip("/") != DEFAULT_OPENAI_BASE_URL.rstrip("/")


@dataclass(frozen=True, slots=True)
class RunDefaults:
    """What a starting run takes from the settings: the effective provider settings (with the
    default model) and the default approval policy."""

    settings: Settings
    approval_policy: str


class SettingsService:
    """Reads the effective settings and saves the ones the UI may change."""

    def __init__(
        self, *, db: Database, settings: Settings, providers: ProviderRegistry | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.providers = providers

    def locked(self, field: str) -> bool:
        """Whether the environment (or the command line) set `field`; it then wins."""
        return field in self.settings.model_fields_set

    async def _saved(self) -> dict[str, Any]:
        async with self.db.read() as conn:
            return await settings_store.all_values(conn)

    async def effective(self, saved: dict[str, Any] | None = None) -> Settings:
        """The settings with saved provider values applied where the environment is silent."""
        saved = await self._saved() if saved is None else saved
        updates = {
            f: saved[f] for f in PROVIDER_FIELDS if saved.get(f) is not None and not self.locked(f)
        }
        return self.settings.model_copy(update=updates) if updates else self.settings

    async def default_model(self) -> str:
        """The model a run uses when neither the message nor the session names one."""
        return (await self.effective()).model

    async def run_defaults(self, conn: AsyncConnection) -> RunDefaults:
        """The settings a run starts with, in one read inside `conn`'s transaction."""
        saved = await settings_store.all_values(conn)
        return RunDefaults(await self.effective(saved), self._policy(saved))

    async def sync_providers(self, effective: Settings | None = None) -> None:
        """Rebuild the providers if their saved settings changed (here or in another process)."""
        if self.providers is not None:
            await self.providers.configure(effective or await self.effective())

    async def approval_policy(self) -> str:
        """The default approval policy: environment, else saved, else `dangerous`."""
        if self.settings.approval_policy:
            return self.settings.approval_policy
        return self._policy(await self._saved())

    def _policy(self, saved: dict[str, Any]) -> str:
        if self.settings.approval_policy:
            return self.settings.approval_policy
        value = saved.get("approval_policy")
        return value if value in POLICIES else DEFAULT_POLICY

    async def default_runtime(self) -> str:
        """The runtime of new sessions: environment, else saved, else `builtin`.

        A default that cannot run here (Hermes uninstalled) falls back to `builtin`, with a
        warning, rather than making every new session fail; `GET /api/models` says why.
        """
        value = self.settings.runtime
        if value is None:
            value = (await self._saved()).get("runtime")
        if value is None or value == "builtin":
            return "builtin"
        status = runtimes.status_of(value) if isinstance(value, str) else None
        if status is None or not status.available:
            log.warning("default runtime %r is not available; using builtin", value)
            return "builtin"
        return value

    async def view(self) -> dict[str, Any]:
        """The settings as the API shows them (keys masked)."""
        saved = await self._saved()
        effective = await self.effective(saved)
        async with self.db.read() as conn:
            grants = await approval_store.always_granted(conn)
        theme = saved.get("theme")
        return {
            "provider_configured": provider_configured(effective),
            "openai_base_url": effective.openai_base_url,
            "openai_base_url_locked": self.locked("openai_base_url"),
            "openai_api_key": mask_key(effective.openai_api_key),
            "openai_api_key_set": bool(effective.openai_api_key),
            "openai_api_key_locked": self.locked("openai_api_key"),
            "anthropic_api_key": mask_key(effective.anthropic_api_key),
            "anthropic_api_key_set": bool(effective.anthropic_api_key),
            "anthropic_api_key_locked": self.locked("anthropic_api_key"),
            "default_model": effective.model,
            "default_model_locked": self.locked("model"),
            "theme": theme if theme in THEMES else "system",
            "approval_policy": await self.approval_policy(),
            "approval_policy_locked": self.settings.approval_policy is not None,
            "runtime": await self.default_runtime(),
            "runtime_locked": self.settings.runtime is not None,
            "always_allowed": [
                {"id": g["id"], "key": g["key"], "created_at": iso(g["created_at"])} for g in grants
            ],
        }

    async def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Check and save changed settings (null clears a saved value); returns the new view."""
        values: dict[str, Any] = {}
        for name, value in changes.items():
            field = API_NAMES[name]
            if field in ("approval_policy", "runtime"):
                if getattr(self.settings, field) is not None:
                    raise _locked(name)
            elif field in PROVIDER_FIELDS and self.locked(field):
                raise _locked(name)
            values[field] = _check(name, value)
        if values:
            now = utcnow()
            async with self.db.write() as conn:
                for field, value in values.items():
                    await settings_store.put(conn, key=field, value=value, now=now)
        if any(f in PROVIDER_FIELDS for f in values):
            await self.sync_providers()
        return await self.view()

    async def forget_grant(self, grant_id: str) -> None:
        """Stop always allowing what a grant allowed."""
        async with self.db.write() as conn:
            if not await approval_store.revoke(conn, grant_id=grant_id):
                raise NotFound(
                    f"There is no remembered approval {grant_id}.", code="grant_not_found"
                )


def _locked(name: str) -> Conflict:
    return Conflict(
        f"'{name}' is set by the server's environment; change it there.", code="setting_locked"
    )


def _check(name: str, value: Any) -> Any:
    """A saved value in its stored form (None = back to the default), or a 400."""
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        if name == "approval_policy":
            raise BadRequest(
                f"'approval_policy' must be one of {', '.join(POLICIES)}.", code="invalid_policy"
            )
        return None
    if name == "approval_policy" and value not in POLICIES:
        raise BadRequest(
            f"'approval_policy' must be one of {', '.join(POLICIES)}.", code="invalid_policy"
        )
    if name == "runtime":
        status = runtimes.status_of(value) if isinstance(value, str) else None
        if status is None or not status.available:
            reason = status.reason if status is not None else "there is no such runtime."
            raise BadRequest(
                f"'runtime' must be an available runtime ({reason})", code="runtime_unavailable"
            )
    if name == "theme" and value not in THEMES:
        raise BadRequest(f"'theme' must be one of {', '.join(THEMES)}.", code="invalid_theme")
    if name == "openai_base_url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 2000:
            raise BadRequest(
                "'openai_base_url' must be an http:// or https:// address, "
                "such as http://127.0.0.1:11434/v1.",
                code="invalid_base_url",
            )
    if name in ("openai_api_key", "anthropic_api_key") and (
        len(value) > 1000 or any(c.isspace() for c in value)
    ):
        raise BadRequest(f"'{name}' must be one word without spaces.", code="invalid_api_key")
    if name == "default_model" and len(value) > 200:
        raise BadRequest("'default_model' must be at most 200 characters.", code="invalid_model")
    return value
