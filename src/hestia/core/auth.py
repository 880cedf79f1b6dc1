"""Who may use Hestia: the password, logins (auth sessions) and API tokens.

Secrets handed out (session cookies, API tokens) are random; only their SHA-256 is stored.
The password is `HESTIA_PASSWORD` or one set in the app (an argon2 hash in `settings`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..config import Settings
from ..errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from ..ids import iso, new_id, utcnow
from ..store import auth as auth_store
from ..store import settings as settings_store
from ..store.db import Database
from .ratelimit import FailureLimiter

PASSWORD_KEY = "auth.password_hash"
UNSET_RECHECK_SECONDS = 1.0
# An argon2 hash of HESTIA_PASSWORD as it was when logins were made: when the variable changes,
# the logins made with the old one end at the next start.
ENV_PASSWORD_KEY = "auth.env_password_hash"
TOKEN_PREFIX = "hestia_"
MIN_PASSWORD = 8
# argon2 uses 64 MiB and tens of ms per hash: a flood of logins queues instead of exhausting RAM.
MAX_HASHING = 2


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: `local` (no password, this machine), `session` or `token`."""

    kind: str
    read_only: bool = False
    session_hash: str | None = None
    token_id: str | None = None


LOCAL = Principal(kind="local")


def digest(secret: str) -> str:
    """The SHA-256 hex digest stored in place of a random secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


class AuthService:
    """Checks passwords and credentials; creates and ends logins and tokens."""

    def __init__(self, *, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._hasher: Any = None
        self._hashing = asyncio.Semaphore(MAX_HASHING)
        self.limiter = FailureLimiter(
            attempts=settings.login_attempts, window=settings.login_window_seconds
        )
        # `password_set` is asked on every request; a saved password is never removed (only
        # changed), so once seen it is remembered, and its absence is re-read at most every
        # UNSET_RECHECK_SECONDS (another process may save one meanwhile).
        self._password_seen = False
        self._unset_until = 0.0

    async def startup(self) -> None:
        """End logins made under a different HESTIA_PASSWORD, and expired ones."""
        env = self.settings.password
        async with self.db.write() as conn:
            saved = await auth_store.get_setting(conn, key=ENV_PASSWORD_KEY)
            if env and not (saved and await self._verify(saved, env)):
                await auth_store.delete_sessions(conn)
                hashed = await self._hash(env)
                await settings_store.put(conn, key=ENV_PASSWORD_KEY, value=hashed, now=utcnow())
            elif not env and saved:
                await auth_store.delete_sessions(conn)
                await auth_store.delete_setting(conn, key=ENV_PASSWORD_KEY)
            await auth_store.delete_sessions(conn, expired_before=utcnow())

    # -- the password -------------------------------------------------------------------------

    async def password_set(self) -> bool:
        """Whether a password exists (then every request needs a login or a token)."""
        if self.settings.password or self._password_seen:
            return True
        now = time.monotonic()
        if now < self._unset_until:
            return False
        if await self._saved_hash() is not None:
            self._password_seen = True
            return True
        self._unset_until = now + UNSET_RECHECK_SECONDS
        return False

    async def status(self, principal: Principal | None) -> dict[str, Any]:
        """What the login page and the UI need to know."""
        required = await self.password_set()
        return {
            "password_set": required,
            "password_locked": bool(self.settings.password),
            "logged_in": principal is not None,
            "via": principal.kind if principal else None,
        }

    async def login(self, password: str, *, client: str) -> tuple[str, datetime]:
        """Check the password (rate-limited per client); a new login's cookie token and expiry."""
        if not await self.password_set():
            raise Conflict(
                "No password is set, so this machine needs no login.", code="no_password"
            )
        self.limiter.check(client)
        if not await self._check_password(password):
            self.limiter.fail(client)
            raise Unauthorized("That password is not right.", code="wrong_password")
        self.limiter.clear(client)
        return await self._new_session()

    async def logout(self, principal: Principal | None) -> None:
        """End the login the request came with (if any)."""
        if principal is not None and principal.session_hash is not None:
            async with self.db.write() as conn:
                await auth_store.delete_session(conn, token_hash=principal.session_hash)

    async def change_password(
        self, *, current: str | None, new: str, client: str, keep_login: bool
    ) -> tuple[str, datetime] | None:
        """Set or change the saved password and end every login; with `keep_login`, a new login
        for the caller (its cookie token and expiry)."""
        if self.settings.password:
            raise Conflict(
                "The password comes from HESTIA_PASSWORD; change it there and restart.",
                code="password_locked",
            )
        if len(new) < MIN_PASSWORD:
            raise BadRequest(
                f"The new password must have at least {MIN_PASSWORD} characters.",
                code="password_too_short",
            )
        if await self._saved_hash() is not None:
            self.limiter.check(client)
            if current is None or not await self._check_password(current):
                self.limiter.fail(client)
                raise Forbidden("The current password is not right.", code="wrong_password")
            self.limiter.clear(client)
        hashed = await self._hash(new)
        async with self.db.write() as conn:
            await settings_store.put(conn, key=PASSWORD_KEY, value=hashed, now=utcnow())
            await auth_store.delete_sessions(conn)
        self._password_seen = True
        return await self._new_session() if keep_login else None

    # -- credentials on requests ---------------------------------------------------------------

    async def session_for(self, cookie: str) -> Principal | None:
        """The login a session cookie stands for, if it is current."""
        hashed = digest(cookie)
        async with self.db.read() as conn:
            row = await auth_store.find_session(conn, token_hash=hashed, now=utcnow())
        return Principal(kind="session", session_hash=hashed) if row else None

    async def token_for(self, token: str) -> Principal | None:
        """The API token a Bearer value stands for, if it exists."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        async with self.db.read() as conn:
            row = await auth_store.find_token(conn, token_hash=digest(token))
        if row is None:
            return None
        return Principal(kind="token", read_only=row["read_only"], token_id=row["id"])

    # -- API tokens ----------------------------------------------------------------------------

    async def create_token(self, *, name: str, read_only: bool) -> dict[str, Any]:
        """A new API token; the only time its secret is shown."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        values = {
            "id": new_id(),
            "name": name,
            "token_hash": digest(token),
            "read_only": read_only,
            "created_at": utcnow(),
        }
        async with self.db.write() as conn:
            await auth_store.insert_token(conn, values=values)
        return {**token_view(values), "token": token}

    async def list_tokens(self) -> list[dict[str, Any]]:
        """Every API token, without its secret."""
        async with self.db.read() as conn:
            return [token_view(row) for row in await auth_store.list_tokens(conn)]

    async def revoke_token(self, token_id: str) -> None:
        """Revoke an API token: it stops working at once."""
        async with self.db.write() as conn:
            if not await auth_store.delete_token(conn, token_id=token_id):
                raise NotFound(f"There is no API token {token_id}.", code="token_not_found")

    # -- helpers -------------------------------------------------------------------------------

    async def _saved_hash(self) -> str | None:
        async with self.db.read() as conn:
            value = await auth_store.get_setting(conn, key=PASSWORD_KEY)
        return value if isinstance(value, str) else None

    async def _check_password(self, password: str) -> bool:
        if self.settings.password:
            # Compare digests so the time taken says nothing about the password's length.
            return hmac.compare_digest(digest(password), digest(self.settings.password))
        saved = await self._saved_hash()
        return saved is not None and await self._verify(saved, password)

    @property
    def hasher(self) -> Any:
        """argon2's hasher, imported on first use: without a password it is never needed."""
        if self._hasher is None:
            from argon2 import PasswordHasher

            self._hasher = PasswordHasher()
        return self._hasher

    async def _hash(self, password: str) -> str:
        async with self._hashing:
            return await asyncio.to_thread(self.hasher.hash, password)

    async def _verify(self, hashed: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            # argon2 takes tens of milliseconds of CPU: off the event loop.
            async with self._hashing:
                return await asyncio.to_thread(self.hasher.verify, hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _new_session(self) -> tuple[str, datetime]:
        token = secrets.token_urlsafe(32)
        now = utcnow()
        expires_at = now + timedelta(days=self.settings.session_days)
        async with self.db.write() as conn:
            await auth_store.insert_session(
                conn, session_id=new_id(), token_hash=digest(token), now=now, expires_at=expires_at
            )
        return token, expires_at


def token_view(row: Any) -> dict[str, Any]:
    """An API token as the API lists it (never its secret or hash)."""
    return {
        "id": row["id"],
        "name": row["name"],
        "read_only": bool(row["read_only"]),
        "created_at": iso(row["created_at"]),
    }


async def saved_password_exists(settings: Settings) -> bool:
    """Whether the database holds a password set in the app (False if it cannot be read yet)."""
    if not settings.database_url and not (settings.data_dir / "hestia.db").exists():
        return False
    db = Database(settings.effective_database_url)
    try:
        async with db.read() as conn:
            return isinstance(await auth_store.get_setting(conn, key=PASSWORD_KEY), str)
    except Exception:
        # No database or no settings table yet: then no password was ever set.
        return False
    finally:
        await db.dispose()
