"""Logging in and out, the password, and API tokens for scripts."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response

from ...core.ratelimit import client_key
from ..deps import ServicesDep
from ..responses import AuthStatus, NewToken, RevokedToken, TokenList
from ..schemas import Login, PasswordChange, TokenCreate
from ..security import CSRF_COOKIE, SESSION_COOKIE, csrf_cookie_value, is_https, principal_of

router = APIRouter(tags=["auth"])


def _client(request: Request) -> str:
    return client_key(request.client.host if request.client else None)


def _set_login(request: Request, response: Response, token: str, expires_at: datetime) -> None:
    """The session cookie (HttpOnly) and a fresh CSRF cookie (readable by the page)."""
    https = is_https(request)
    max_age = int(request.app.state.services.settings.session_days * 86400)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        expires=expires_at,
        path="/",
        secure=https,
        httponly=True,
        samesite="lax",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf_cookie_value(),
        max_age=max_age,
        path="/",
        secure=https,
        httponly=False,
        samesite="lax",
    )


@router.get("/api/auth/status")
async def auth_status(request: Request, services: ServicesDep) -> AuthStatus:
    """Whether a password is set and whether this request is logged in (no login needed)."""
    return AuthStatus(**await services.auth.status(principal_of(request)))


@router.post("/api/auth/login")
async def login(
    body: Login, request: Request, response: Response, services: ServicesDep
) -> AuthStatus:
    """Log in with the password: sets the session cookie. Wrong passwords are rate-limited."""
    token, expires_at = await services.auth.login(body.password, client=_client(request))
    _set_login(request, response, token, expires_at)
    status = await services.auth.status(None)
    return AuthStatus(**{**status, "logged_in": True, "via": "session"})


@router.post("/api/auth/logout")
async def logout(request: Request, response: Response, services: ServicesDep) -> AuthStatus:
    """End this login and clear its cookie."""
    await services.auth.logout(principal_of(request))
    response.delete_cookie(SESSION_COOKIE, path="/", secure=is_https(request), httponly=True)
    return AuthStatus(**await services.auth.status(None))


@router.post("/api/auth/password")
async def change_password(
    body: PasswordChange, request: Request, response: Response, services: ServicesDep
) -> AuthStatus:
    """Set the password (no `current` needed while none is set) or change it: every other
    login ends; a browser caller gets a new login."""
    principal = principal_of(request)
    keep = principal is None or principal.kind != "token"
    login = await services.auth.change_password(
        current=body.current, new=body.new, client=_client(request), keep_login=keep
    )
    if login is not None:
        _set_login(request, response, *login)
    status = await services.auth.status(None)
    return AuthStatus(**{**status, "logged_in": True, "via": "session" if keep else "token"})


@router.post("/api/tokens", status_code=201)
async def create_token(body: TokenCreate, services: ServicesDep) -> NewToken:
    """A new API token for scripts; `token` is shown this once only."""
    return NewToken(**await services.auth.create_token(name=body.name, read_only=body.read_only))


@router.get("/api/tokens")
async def list_tokens(services: ServicesDep) -> TokenList:
    """Every API token (names and rights, never the secrets)."""
    return TokenList(tokens=await services.auth.list_tokens())


@router.delete("/api/tokens/{token_id}")
async def revoke_token(token_id: str, services: ServicesDep) -> RevokedToken:
    """Revoke an API token; it stops working at once."""
    await services.auth.revoke_token(token_id)
    return RevokedToken(id=token_id, revoked=True)
