"""Data access for settings saved from the UI (a key → JSON value table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import settings


async def all_values(conn: AsyncConnection) -> dict[str, Any]:
    """Every saved setting."""
    rows = await conn.execute(sa.select(settings.c.key, settings.c.value))
    return {key: value for key, value in rows.all()}


async def put(conn: AsyncConnection, *, key: str, value: Any, now: datetime) -> None:
    """Save one setting (insert or replace)."""
    updated = await conn.execute(
        sa.update(settings).where(settings.c.key == key).values(value=value, updated_at=now)
    )
    if updated.rowcount == 0:
        await conn.execute(sa.insert(settings).values(key=key, value=value, updated_at=now))
