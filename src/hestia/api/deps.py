"""FastAPI dependencies: the app's `Services`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..services import Services


async def get_services(request: Request) -> Services:
    """The `Services` of the app serving this request."""
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
