"""`GET /health`: is the process up."""

from fastapi import APIRouter

from ... import __version__

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness, with the running version (no auth)."""
    return {"status": "ok", "version": __version__}
