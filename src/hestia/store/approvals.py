"""Data access for approvals and remembered approval grants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import approval_grants, approvals


async def insert(conn: AsyncConnection, *, values: dict[str, Any]) -> None:
    """Insert one approval request."""
    await conn.execute(sa.insert(approvals).values(**values))


async def get(conn: AsyncConnection, *, approval_id: str) -> RowMapping | None:
    """One approval by id."""
    query = sa.select(approvals).where(approvals.c.id == approval_id)
    return (await conn.execute(query)).mappings().first()


async def resolve(
    conn: AsyncConnection, *, approval_id: str, status: str, decision: str | None, now: datetime
) -> bool:
    """Compare-and-set a pending approval to its outcome; False if it was not pending."""
    result = await conn.execute(
        sa.update(approvals)
        .where(approvals.c.id == approval_id, approvals.c.status == "pending")
        .values(status=status, decision=decision, resolved_at=now)
    )
    return result.rowcount == 1


async def expire_for_run(conn: AsyncConnection, *, run_id: str, now: datetime) -> int:
    """Expire whatever a run was still waiting for (it ended without an answer)."""
    result = await conn.execute(
        sa.update(approvals)
        .where(approvals.c.run_id == run_id, approvals.c.status == "pending")
        .values(status="expired", resolved_at=now)
    )
    return result.rowcount


async def pending_for_session(conn: AsyncConnection, *, session_id: str) -> list[RowMapping]:
    """A session's approvals still waiting for an answer."""
    query = (
        sa.select(approvals)
        .where(approvals.c.session_id == session_id, approvals.c.status == "pending")
        .order_by(approvals.c.created_at)
    )
    return list((await conn.execute(query)).mappings().all())


async def is_granted(conn: AsyncConnection, *, session_id: str, key: str) -> bool:
    """Whether `key` was approved for this session or always."""
    query = sa.select(sa.literal(1)).where(
        approval_grants.c.key == key,
        sa.or_(approval_grants.c.session_id == session_id, approval_grants.c.session_id.is_(None)),
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def grant(
    conn: AsyncConnection, *, grant_id: str, session_id: str | None, key: str, now: datetime
) -> None:
    """Remember an approval of `key` for a session, or always (session_id None)."""
    await conn.execute(
        sa.insert(approval_grants).values(
            id=grant_id, session_id=session_id, key=key, created_at=now
        )
    )


async def always_granted(conn: AsyncConnection) -> list[RowMapping]:
    """The approvals remembered for every session."""
    query = (
        sa.select(approval_grants.c.id, approval_grants.c.key, approval_grants.c.created_at)
        .where(approval_grants.c.session_id.is_(None))
        .order_by(approval_grants.c.created_at)
    )
    return list((await conn.execute(query)).mappings().all())


async def revoke(conn: AsyncConnection, *, grant_id: str) -> int:
    """Forget one remembered approval."""
    result = await conn.execute(sa.delete(approval_grants).where(approval_grants.c.id == grant_id))
    return result.rowcount
