"""Pure ASGI middlewares: bodies over a size limit get a JSON 413, URLs holding NUL a JSON 400."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

IMPORT_PATH = "/api/sessions/import"


class BodyLimit:
    """Refuse bodies larger than `max_bytes`, by Content-Length or while they stream in.

    Paths holding `/files/` (workspace file writes and uploads) get `files_max_bytes` instead,
    and `POST /api/sessions/import` (a whole session in one body) gets `import_max_bytes`.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        files_max_bytes: int | None = None,
        import_max_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.files_max_bytes = files_max_bytes
        self.import_max_bytes = import_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if self.files_max_bytes is not None and "/files/" in scope["path"]:
            limit = self.files_max_bytes
        if self.import_max_bytes is not None and scope["path"] == IMPORT_PATH:
            limit = self.import_max_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await self._refuse(scope, receive, send, limit)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # FastAPI passes HTTPException through body parsing; the handler shapes it.
                    raise HTTPException(413, _message(limit))
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await error_response(413, "request_too_large", _message(limit))(scope, receive, send)


def _message(limit: int) -> str:
    return f"The request body is larger than {limit:,} bytes."


class NoNulInUrl:
    """Refuse a URL whose path or query holds NUL (`%00`) with a JSON 400: no id or search
    contains one, and PostgreSQL cannot even compare text with it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")
        ):
            message = "The address holds a NUL character (%00)."
            await error_response(400, "invalid_url", message)(scope, receive, send)
            return
        await self.app(scope, receive, send)
