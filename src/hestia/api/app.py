"""`create_app(settings)`: the FastAPI application and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import __version__
from ..config import Settings
from ..services import Services
from ..web import install as install_web
from . import errors
from .limits import BodyLimit, NoNulInUrl
from .responses import ERRORS
from .routes import (
    approvals,
    auth,
    files,
    health,
    login,
    models,
    render,
    runs,
    sessions,
    transfer,
)
from .routes import settings as settings_routes
from .security import SecurityGuard


def create_app(settings: Settings, *, services: Services | None = None) -> FastAPI:
    """Build the app; its lifespan migrates the database and sweeps stale runs before serving."""
    services = services or Services.build(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="Hestia",
        version=__version__,
        lifespan=lifespan,
        # A trailing slash is a JSON 404 like any unknown address, not a bare redirect.
        redirect_slashes=False,
    )
    app.state.services = services
    errors.install(app)
    app.add_middleware(
        BodyLimit,
        max_bytes=4 * settings.max_message_bytes + 64 * 1024,
        # A whole file in a PUT, or in a multipart upload with its headers and boundaries.
        files_max_bytes=settings.max_file_bytes + 64 * 1024,
        import_max_bytes=settings.max_import_bytes,
    )
    app.add_middleware(NoNulInUrl)
    # Outermost: nothing (not even a body) reaches the app before the guard admits it.
    app.add_middleware(SecurityGuard, auth=services.auth, settings=settings)
    routers = (
        health,
        transfer,
        sessions,
        files,
        runs,
        models,
        approvals,
        settings_routes,
        auth,
        login,
        render,
    )
    for module in routers:
        app.include_router(module.router, responses=ERRORS)
    install_web(app)
    return app
