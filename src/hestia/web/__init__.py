"""The browser app: the page at `/`, its files at `/static/...`, served from the package."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from ..core.render import pygments_css

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def app_page() -> FileResponse:
    """The single page of the app; everything else it loads from `/static/`."""
    # no-cache: a new version of the app is picked up on the next load, not after a week.
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@lru_cache(maxsize=1)
def _highlight_css() -> str:
    return pygments_css()


@router.get("/static/highlight.css")
async def highlight_css() -> Response:
    """Colours for highlighted code, built from the Pygments styles the renderer uses."""
    return Response(_highlight_css(), media_type="text/css", headers={"Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    """Serve the app page and its static files (after the API routes)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
