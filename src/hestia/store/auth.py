"""Data access for logins (auth sessions), API tokens and the saved password hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import api_tokens, auth_sessions, settings


async def get_setting(conn: AsyncConnection, *, key: str) -> Any:
    """One saved setting's value, or None."""
    query = sa.select(settings.c.value).where(settings.c.key == key)
    return (await conn.execute(query)).scalar_one_or_none()


async def delete_setting(conn: AsyncConnection, *, key: str) -> None:
    """Forget one saved setting."""
    await conn.execute(sa.delete(settings).where(settings.c.key == key))


async def insert_session(
    conn: AsyncConnection, *, session_id: str, token_hash: str, now: datetime, expires_at: datetime
) -> None:
    """Record one login."""
    await conn.execute(
        sa.insert(auth_sessions).values(
            id=session_id, token_hash=token_hash, created_at=now, expires_at=expires_at
        )
    )


async def find_session(
    conn: AsyncConnection, *, token_hash: str, now: datetime
) -> RowMapping | None:
    """The unexpired login whose cookie token hashes to `token_hash`."""
    query = sa.select(auth_sessions).where(
        auth_sessions.c.token_hash == token_hash, auth_sessions.c.expires_at > now
    )
    return (await conn.execute(query)).mappings().first()


async def delete_session(conn: AsyncConnection, *, token_hash: str) -> None:
    """End one login."""
    await conn.execute(sa.delete(auth_sessions).where(auth_sessions.c.token_hash == token_hash))


async def delete_sessions(conn: AsyncConnection, *, expired_before: datetime | None = None) -> int:
    """End every login (or only those expired before the given time)."""
    query = sa.delete(auth_sessions)
    if expired_before is not None:
        query = query.where(auth_sessions.c.expires_at <= expired_before)
    return (await conn.execute(query)).rowcount


async def insert_token(conn: AsyncConnection, *, values: dict[str, Any]) -> None:
    """Record one API token (its hash, never the token)."""
    await conn.execute(sa.insert(api_tokens).values(**values))


async def find_token(conn: AsyncConnection, *, token_hash: str) -> RowMapping | None:
    """The API token that hashes to `token_hash`."""
    query = sa.select(api_tokens).where(api_tokens.c.token_hash == token_hash)
    return (await conn.execute(query)).mappings().first()


async def list_tokens(conn: AsyncConnection) -> list[RowMapping]:
    """Every API token, oldest first."""
    query = sa.select(
        api_tokens.c.id, api_tokens.c.name, api_tokens.c.read_only, api_tokens.c.created_at
    ).order_by(api_tokens.c.created_at, api_tokens.c.id)
    return list((await conn.execute(query)).mappings().all())


async def delete_token(conn: AsyncConnection, *, token_id: str) -> bool:
    """Revoke one API token; False if there was none."""
    result = await conn.execute(sa.delete(api_tokens).where(api_tokens.c.id == token_id))
    return result.rowcount == 1
