"""The running application's parts, built from `Settings` and started/stopped together."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field

from .config import Settings
from .core.agent import Agent
from .core.approvals import Approvals
from .core.auth import AuthService
from .core.events import EventBus
from .core.files import FileService
from .core.hermes_process import reap_orphan_workers
from .core.runs import RunManager
from .core.sessions import SessionService
from .core.settings import SettingsService
from .providers.registry import ProviderRegistry
from .store import migrate
from .store.db import Database

log = logging.getLogger(__name__)

WARM_UP_DELAY = 1.0  # seconds from the start to importing the provider SDKs in a thread


@dataclass
class Services:
    """Everything a request handler may need; one instance per app."""

    settings: Settings
    db: Database
    bus: EventBus
    providers: ProviderRegistry
    runs: RunManager
    sessions: SessionService
    approvals: Approvals
    preferences: SettingsService
    files: FileService
    auth: AuthService
    warming: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings, *, providers: ProviderRegistry | None = None) -> Services:
        """Wire the parts together; nothing touches the disk or the network yet."""
        db = Database(settings.effective_database_url)
        bus = EventBus()
        providers = providers or ProviderRegistry.from_settings(settings)
        approvals = Approvals(db)
        preferences = SettingsService(db=db, settings=settings, providers=providers)
        runs = RunManager(
            db=db,
            bus=bus,
            settings=settings,
            providers=providers,
            agent=Agent(approvals=approvals, max_steps=settings.max_steps),
            preferences=preferences,
        )
        return cls(
            settings=settings,
            db=db,
            bus=bus,
            providers=providers,
            runs=runs,
            sessions=SessionService(db=db, runs=runs),
            approvals=approvals,
            preferences=preferences,
            files=FileService(db=db, settings=settings),
            auth=AuthService(db=db, settings=settings),
        )

    async def start(self) -> None:
        """Prepare the data dir, migrate, interrupt what a dead process left, start queued runs."""
        prepare_data_dir(self.settings)
        await migrate.upgrade(self.db)
        reap_orphan_workers(self.settings.data_dir, self.runs.owner)  # before the sweep
        await self.auth.startup()
        await self.preferences.sync_providers()  # provider settings saved in the app
        await self.runs.startup()
        # The provider SDKs load in the background: the server answers before they are ready.
        self.warming = asyncio.create_task(self._warm_up(), name="provider-warm-up")

    async def _warm_up(self) -> None:
        # Not at once: the import holds the GIL for most of a second, and the first answers (the
        # health check, the page and its first API calls) would wait for it. A run that starts
        # sooner imports its SDK itself.
        await asyncio.sleep(WARM_UP_DELAY)
        await self.providers.warm()

    async def stop(self) -> None:
        """End this process's runs as interrupted and close connections."""
        await self.runs.shutdown()
        if self.warming is not None:
            self.warming.cancel()  # an import already running in its thread still finishes
            await asyncio.gather(self.warming, return_exceptions=True)
        await self.providers.aclose()
        await self.db.dispose()


def prepare_data_dir(settings: Settings) -> None:
    """Create the data dir, readable by its owner only."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
