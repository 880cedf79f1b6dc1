"""The one guard in front of every route: host and origin checks, CSRF, login or token, and the
security headers on every response (a pure ASGI middleware, so streams pass untouched).

Public is an allow-list (`PUBLIC`, `PUBLIC_PREFIXES`): any route added later needs a login."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from typing import Any
from urllib.parse import quote

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from ..config import Settings
from ..core.auth import LOCAL, AuthService, Principal
from .errors import error_response

SESSION_COOKIE = "hestia_session"
CSRF_COOKIE = "hestia_csrf"
CSRF_HEADER = "x-csrf-token"
SCOPE_KEY = "hestia.auth"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "x-content-type-options": "nosniff",
    # Not no-referrer: with it, browsers send `Origin: null` on same-origin POSTs.
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALWAYS_PUBLIC = {"/health": {"GET", "HEAD"}}
PUBLIC = {
    **ALWAYS_PUBLIC,
    "/login": {"GET", "HEAD"},
    "/api/auth/login": {"POST"},
    "/api/auth/logout": {"POST"},
    "/api/auth/status": {"GET", "HEAD"},
}
PUBLIC_PREFIXES = {"/static/": {"GET", "HEAD"}}
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def is_public(method: str, path: str) -> bool:
    """Whether `method path` is served without a login (health, the login page and API, static
    files)."""
    if method in PUBLIC.get(path, ()):
        return True
    return any(path.startswith(p) and method in m for p, m in PUBLIC_PREFIXES.items())


def principal_of(conn: HTTPConnection) -> Principal | None:
    """Who the guard found the request to be (None on a public route without credentials)."""
    return conn.scope.get(SCOPE_KEY)


def is_https(conn: HTTPConnection) -> bool:
    """Whether the request came over HTTPS (uvicorn applies trusted proxies' X-Forwarded-Proto)."""
    return conn.scope.get("scheme") in ("https", "wss")


def csrf_cookie_value() -> str:
    """A new CSRF token."""
    return secrets.token_urlsafe(32)


class Refusal(Exception):
    """A request the guard turns away, with the JSON error (or a redirect) to answer."""

    def __init__(self, status: int, code: str, message: str, **headers: str) -> None:
        super().__init__(message)
        self.response: Response = error_response(status, code, message)
        self.response.headers.update(headers)


class SecurityGuard:
    """Refuse what must not reach a route, mark who the request is, add headers on the way out."""

    def __init__(self, app: ASGIApp, *, auth: AuthService, settings: Settings) -> None:
        self.app = app
        self.auth = auth
        self.settings = settings
        self.csrf_max_age = int(settings.session_days * 86400)
        names = {settings.host.lower(), *settings.allowed_host_names}
        hostname = socket.gethostname().lower()
        self.host_names = names | {hostname, f"{hostname}.local"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        send = self._with_headers(conn, send)
        try:
            scope[SCOPE_KEY] = await self._admit(conn)
        except Refusal as refusal:
            if scope["type"] == "websocket":
                await WebSocketClose(code=1008)(scope, receive, send)
            else:
                await refusal.response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _admit(self, conn: HTTPConnection) -> Principal | None:
        method = conn.scope.get("method", "GET")
        path = conn.scope["path"]
        self._check_host(conn)
        if method in ALWAYS_PUBLIC.get(path, ()):
            return None
        self._check_origin(conn, method, path)
        authorization = conn.headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            return await self._bearer(conn, authorization[7:].strip(), method)
        if method not in SAFE_METHODS and _from_browser(conn):
            _check_csrf(conn)
        if not await self.auth.password_set():
            self._check_local(conn)
            return LOCAL
        cookie = conn.cookies.get(SESSION_COOKIE)
        principal = await self.auth.session_for(cookie) if cookie else None
        if principal is None and not is_public(method, path):
            raise self._login_needed(conn, method, path)
        return principal

    async def _bearer(self, conn: HTTPConnection, token: str, method: str) -> Principal:
        principal = await self.auth.token_for(token)
        if principal is None:
            raise Refusal(
                401,
                "not_authenticated",
                "The API token is not valid (mistyped or revoked).",
                **{"WWW-Authenticate": "Bearer"},
            )
        if principal.read_only and method not in SAFE_METHODS:
            raise Refusal(403, "read_only_token", "This API token may only read (GET).")
        if not await self.auth.password_set():
            self._check_local(conn)
        return principal

    def _check_host(self, conn: HTTPConnection) -> None:
        """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends
        `Host: evil.example`. Only names this server is known by are answered."""
        host = conn.headers.get("host")
        if host is None or "*" in self.settings.allowed_host_names:
            return
        name = _host_name(host)
        if name == "localhost" or name.endswith(".localhost") or name in self.host_names:
            return
        try:
            ipaddress.ip_address(name)
            return
        except ValueError:
            pass
        raise Refusal(
            403,
            "host_refused",
            f"Hestia does not answer to the name {name!r}; add it to HESTIA_ALLOWED_HOSTS.",
        )

    def _check_origin(self, conn: HTTPConnection, method: str, path: str) -> None:
        """Requests started by another site's page are refused (by Origin, else Fetch Metadata);
        following a link from elsewhere to a page is fine."""
        origin = conn.headers.get("origin")
        if origin is not None and origin.lower() != _own_origin(conn):
            raise Refusal(403, "origin_refused", "Requests from other sites are refused.")
        site = conn.headers.get("sec-fetch-site")
        if site in ("cross-site", "same-site"):
            navigating = conn.headers.get("sec-fetch-mode") == "navigate"
            if not (navigating and method in ("GET", "HEAD") and not path.startswith("/api/")):
                raise Refusal(403, "origin_refused", "Requests from other sites are refused.")

    def _check_local(self, conn: HTTPConnection) -> None:
        client = conn.client.host if conn.client else None
        proxied = any(name in conn.headers for name in FORWARDING_HEADERS)
        if proxied or not _is_loopback(client):
            raise Refusal(
                403,
                "loopback_only",
                "No password is set, so Hestia only answers this machine (not through a proxy). "
                "Set HESTIA_PASSWORD, or set a password in the app on this machine.",
            )

    def _login_needed(self, conn: HTTPConnection, method: str, path: str) -> Refusal:
        accept = conn.headers.get("accept", "")
        if method in ("GET", "HEAD") and "text/html" in accept and not path.startswith("/api/"):
            target = path + (f"?{conn.url.query}" if conn.url.query else "")
            refusal = Refusal(401, "not_authenticated", "Log in first.")
            refusal.response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            return refusal
        return Refusal(
            401,
            "not_authenticated",
            "Log in first, or send an API token as 'Authorization: Bearer <token>'.",
            **{"WWW-Authenticate": "Bearer"},
        )

    def _with_headers(self, conn: HTTPConnection, send: Send) -> Send:
        https = is_https(conn)
        needs_csrf = not _valid_csrf_cookie(conn.cookies.get(CSRF_COOKIE))
        api = conn.scope["path"].startswith("/api/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # Appended: a route's own policy (e.g. `sandbox` on downloads) stays in force too.
                headers.append("content-security-policy", CSP)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if https:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
                if api:
                    headers.setdefault("cache-control", "no-store")
                # A page of the app, not an HTML file downloaded from a workspace.
                page = headers.get("content-type", "").startswith("text/html") and not api
                if page and needs_csrf and "hestia_csrf=" not in headers.get("set-cookie", ""):
                    headers.append("set-cookie", self.csrf_cookie(https=https))
            await send(message)

        return sending

    def csrf_cookie(self, *, https: bool, value: str | None = None) -> str:
        """A `Set-Cookie` value for the CSRF cookie (readable by the page's script)."""
        response = Response()
        response.set_cookie(
            CSRF_COOKIE,
            value or csrf_cookie_value(),
            max_age=self.csrf_max_age,
            path="/",
            secure=https,
            httponly=False,
            samesite="lax",
        )
        return response.headers["set-cookie"]


def _from_browser(conn: HTTPConnection) -> bool:
    """Browsers send cookies, Origin or Fetch Metadata; a script like curl sends none of them."""
    headers: Headers = conn.headers
    return "cookie" in headers or "origin" in headers or "sec-fetch-site" in headers


def _check_csrf(conn: HTTPConnection) -> None:
    sent = conn.headers.get(CSRF_HEADER, "")
    expected = conn.cookies.get(CSRF_COOKIE, "")
    if not (sent and expected and hmac.compare_digest(sent.encode(), expected.encode())):
        raise Refusal(
            403,
            "csrf_failed",
            "The request lacks a valid X-CSRF-Token header (the hestia_csrf cookie's value); "
            "reload the page.",
        )


def _valid_csrf_cookie(value: str | None) -> bool:
    return bool(value) and 16 <= len(value) <= 128 and value.isascii()


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _own_origin(conn: HTTPConnection) -> str:
    scheme = "https" if is_https(conn) else "http"
    return f"{scheme}://{conn.headers.get('host', '').lower()}"


def _is_loopback(host: Any) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except (TypeError, ValueError):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
