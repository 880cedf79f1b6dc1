"""Approvals: a durable request row, a decision from the API, and the run that waits for it."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import RowMapping

from ..errors import BadRequest, Conflict, NotFound
from ..ids import iso, new_id, utcnow
from ..store import approvals as approval_store
from ..store.db import Database

DECISIONS = ("once", "session", "always", "deny")
POLICIES = ("ask", "dangerous", "never")


class Approvals:
    """Records decisions (CAS on `pending`) and wakes the run waiting in this process."""

    def __init__(self, db: Database, *, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._waiters: dict[str, asyncio.Future[str]] = {}

    async def decide(self, approval_id: str, decision: Any) -> RowMapping:
        """Answer a pending approval; `session`/`always` also remember its key."""
        if decision not in DECISIONS:
            raise BadRequest(
                f"'decision' must be one of {', '.join(DECISIONS)}.", code="invalid_decision"
            )
        now = utcnow()
        async with self.db.write() as conn:
            row = await approval_store.get(conn, approval_id=approval_id)
            if row is None:
                raise NotFound(f"There is no approval {approval_id}.", code="approval_not_found")
            status = "denied" if decision == "deny" else "approved"
            if not await approval_store.resolve(
                conn, approval_id=approval_id, status=status, decision=decision, now=now
            ):
                raise Conflict(
                    f"This approval is already {row['status']}; nothing is waiting for it.",
                    code="approval_not_pending",
                )
            if decision in ("session", "always"):
                await approval_store.grant(
                    conn,
                    grant_id=new_id(),
                    session_id=row["session_id"] if decision == "session" else None,
                    key=row["key"],
                    now=now,
                )
            row = await approval_store.get(conn, approval_id=approval_id)
        waiter = self._waiters.get(approval_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(decision)
        assert row is not None
        return row

    async def wait(self, approval_id: str, stop: asyncio.Event) -> str | None:
        """The decision, or None if `stop` is set first. Polls for decisions made elsewhere."""
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters[approval_id] = waiter
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {waiter, stopper},
                    timeout=self.poll_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if waiter in done:
                    return waiter.result()
                if stopper in done:
                    return None
                async with self.db.read() as conn:
                    row = await approval_store.get(conn, approval_id=approval_id)
                if row is not None and row["decision"] is not None:
                    return row["decision"]
        finally:
            stopper.cancel()
            self._waiters.pop(approval_id, None)


def approval_view(row: RowMapping) -> dict[str, Any]:
    """An Approval object."""
    return {
        "id": row["id"],
        "run_id": row["run_id"],
        "session_id": row["session_id"],
        "call_id": row["call_id"],
        "tool": row["tool"],
        "arguments": row["arguments"],
        "reason": row["reason"],
        "status": row["status"],
        "decision": row["decision"],
        "created_at": iso(row["created_at"]),
        "resolved_at": iso(row["resolved_at"]),
    }
