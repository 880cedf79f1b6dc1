"""Settings a person changes in the app: saved in the database; the environment overrides them."""

from __future__ import annotations

import logging
from typing import Any

from ..config import Settings
from ..errors import BadRequest, NotFound
from ..ids import iso, utcnow
from ..store import approvals as approval_store
from ..store import settings as settings_store
from ..store.db import Database
from . import runtimes
from .approvals import POLICIES

DEFAULT_POLICY = "dangerous"
log = logging.getLogger(__name__)


class SettingsService:
    """Reads the effective settings and saves the ones the UI may change."""

    def __init__(self, *, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def approval_policy(self) -> str:
        """The default approval policy: environment, else saved, else `dangerous`."""
        if self.settings.approval_policy:
            return self.settings.approval_policy
        async with self.db.read() as conn:
            saved = await settings_store.all_values(conn)
        value = saved.get("approval_policy")
        return value if value in POLICIES else DEFAULT_POLICY

    async def default_runtime(self) -> str:
        """The runtime of new sessions: environment, else saved, else `builtin`.

        A default that cannot run here (Hermes uninstalled) falls back to `builtin`, with a
        warning, rather than making every new session fail; `GET /api/models` says why.
        """
        value = self.settings.runtime
        if value is None:
            async with self.db.read() as conn:
                value = (await settings_store.all_values(conn)).get("runtime")
        if value is None or value == "builtin":
            return "builtin"
        status = runtimes.status_of(value) if isinstance(value, str) else None
        if status is None or not status.available:
            log.warning("default runtime %r is not available; using builtin", value)
            return "builtin"
        return value

    async def view(self) -> dict[str, Any]:
        """The settings as the API shows them."""
        async with self.db.read() as conn:
            grants = await approval_store.always_granted(conn)
        return {
            "approval_policy": await self.approval_policy(),
            "approval_policy_locked": self.settings.approval_policy is not None,
            "runtime": await self.default_runtime(),
            "runtime_locked": self.settings.runtime is not None,
            "always_allowed": [
                {"id": g["id"], "key": g["key"], "created_at": iso(g["created_at"])} for g in grants
            ],
        }

    async def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Save changed settings; returns the new view."""
        if "approval_policy" in changes:
            policy = changes["approval_policy"]
            if policy not in POLICIES:
                raise BadRequest(
                    f"'approval_policy' must be one of {', '.join(POLICIES)}.",
                    code="invalid_policy",
                )
            async with self.db.write() as conn:
                await settings_store.put(conn, key="approval_policy", value=policy, now=utcnow())
        if "runtime" in changes:
            runtime = changes["runtime"]
            status = runtimes.status_of(runtime) if isinstance(runtime, str) else None
            if status is None or not status.available:
                reason = status.reason if status is not None else "there is no such runtime."
                raise BadRequest(
                    f"'runtime' must be an available runtime ({reason})",
                    code="runtime_unavailable",
                )
            async with self.db.write() as conn:
                await settings_store.put(conn, key="runtime", value=runtime, now=utcnow())
        return await self.view()

    async def forget_grant(self, grant_id: str) -> None:
        """Stop always allowing what a grant allowed."""
        async with self.db.write() as conn:
            if not await approval_store.revoke(conn, grant_id=grant_id):
                raise NotFound(
                    f"There is no remembered approval {grant_id}.", code="grant_not_found"
                )
