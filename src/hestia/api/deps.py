"""FastAPI dependencies: the app's `Services`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..services import Services


def get_services(request: Request) -> Services:
    """The `Services` of the app serving this request."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
