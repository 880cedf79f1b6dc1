"""Approvals: answer what a run is waiting for."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...core.approvals import approval_view
from ..deps import ServicesDep
from ..responses import Approval
from ..schemas import ApprovalDecision

router = APIRouter(prefix="/api/approvals", tags=["approvals"])


@router.post("/{approval_id}", response_model=Approval)
async def decide(approval_id: str, body: ApprovalDecision, services: ServicesDep) -> dict[str, Any]:
    """`once`, `session` (this session), `always` (remembered) or `deny`."""
    return approval_view(await services.approvals.decide(approval_id, body.decision))
