"""The login page `/login` and its two static files (served without a login)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).parents[2] / "web" / "static"

router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login_page() -> FileResponse:
    """The login form (its script posts to /api/auth/login)."""
    return FileResponse(STATIC / "login.html", media_type="text/html; charset=utf-8")


@router.get("/static/login.js")
async def login_script() -> FileResponse:
    """The login page's script."""
    return FileResponse(STATIC / "login.js", media_type="text/javascript; charset=utf-8")


@router.get("/static/login.css")
async def login_style() -> FileResponse:
    """The login page's style sheet."""
    return FileResponse(STATIC / "login.css", media_type="text/css; charset=utf-8")
