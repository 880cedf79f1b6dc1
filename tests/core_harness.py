"""In-process Hestia parts on a real database, for tests that need to reach inside the core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from hestia.config import Settings
from hestia.core.owner import Owner
from hestia.core.runs import RunManager
from hestia.ids import utcnow
from hestia.services import Services
from hestia.store import migrate
from hestia.store.tables import runs
from tests.fake_provider import FakeProvider


def settings_for(
    database_url: str, data_dir: Path, fake: FakeProvider, **extra: object
) -> Settings:
    """Settings that use `database_url` and the fake provider."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        openai_base_url=fake.base_url,
        openai_api_key="test-key",
        model="fake-model",
        provider_timeout=5,
        **extra,
    )


@asynccontextmanager
async def running_services(
    settings: Settings, owner: Owner | None = None
) -> AsyncIterator[Services]:
    """Migrated services whose run manager has the given owner identity (no background upkeep)."""
    services = Services.build(settings)
    if owner is not None:
        services.runs.owner = owner
    await migrate.upgrade(services.db)
    try:
        yield services
    finally:
        await services.stop()


def peer(services: Services, owner: Owner) -> RunManager:
    """Another process's run manager on the same database (a second owner)."""
    return RunManager(
        db=services.db,
        bus=services.bus.__class__(),
        settings=services.settings,
        providers=services.providers,
        owner=owner,
    )


async def expire_lease(services: Services, run_id: str) -> None:
    """Make a run's lease run out, as if its owner had stopped renewing it."""
    async with services.db.write() as conn:
        await conn.execute(
            sa.update(runs)
            .where(runs.c.id == run_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=60))
        )
