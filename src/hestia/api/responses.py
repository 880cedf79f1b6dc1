"""Response models: what the OpenAPI schema promises each route answers (and errors with)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# Declared on every route, so a client (and schemathesis) knows each error's shape.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Bad input (e.g. invalid JSON, a malformed id or cursor)."),
    401: _error("Not logged in: log in or send `Authorization: Bearer <token>`."),
    403: _error(
        "Refused: another site's request, a missing CSRF token, a read-only token, or "
        "a client that is not this machine while no password is set."
    ),
    404: _error("Nothing with that id, or nothing at that address."),
    405: _error("The address does not accept that method."),
    409: _error("Conflicts with the current state."),
    413: _error("The body is too large."),
    415: _error("The body's media type is not accepted."),
    422: _error("The body or a parameter is not valid."),
    429: _error("Too many attempts; see Retry-After."),
}


class AuthStatus(BaseModel):
    password_set: bool
    password_locked: bool
    logged_in: bool
    via: str | None


class Token(BaseModel):
    id: str
    name: str
    read_only: bool
    created_at: str


class NewToken(Token):
    token: str


class TokenList(BaseModel):
    tokens: list[Token]


class RevokedToken(BaseModel):
    id: str
    revoked: bool
