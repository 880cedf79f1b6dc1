"""Response models: what the OpenAPI schema promises each route answers (and errors with)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


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


# -- the core objects (DESIGN §5). Extra fields are allowed: a field added to a view must not
# turn a response into a 500, while every documented field is checked. -------------------------


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Session(Out):
    id: str
    title: str
    model: str | None
    runtime: str
    workspace: str | None
    created_at: str
    updated_at: str
    pinned: bool
    archived: bool
    trashed: bool
    message_count: int
    active_run_id: str | None
    approval_policy: str | None


class Purged(Out):
    id: str
    purged: bool


class Message(Out):
    id: str
    seq: int
    role: str
    content: str
    status: str
    run_id: str | None
    superseded: bool
    created_at: str
    parts: list[Any]


class RunInput(Out):
    content: str


class Run(Out):
    id: str
    session_id: str
    status: str
    kind: str
    model: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: dict[str, Any] | None
    last_event_id: int
    cancel_requested: bool
    user_message_id: str | None
    assistant_message_id: str | None
    input: RunInput


class SessionList(Out):
    sessions: list[Session]
    next_cursor: str | None


class SessionRead(Out):
    session: Session
    messages: list[Message]
    has_more: bool


class RunEnvelope(Out):
    run: Run


class RunList(Out):
    runs: list[Run]


class FileEntry(Out):
    name: str
    type: str
    modified: str


class FileList(Out):
    path: str
    entries: list[FileEntry]
    truncated: bool


class FileContent(Out):
    path: str
    size: int
    modified: str
    binary: bool
    content: str | None


class FileWritten(Out):
    path: str
    size: int
    modified: str


class Uploaded(Out):
    path: str
    files: list[FileWritten]


class ModelEntry(Out):
    id: str
    provider: str


class ProviderStatus(Out):
    name: str
    base_url: str | None
    ok: bool
    error: ErrorDetail | None


class ModelList(Out):
    default_model: str | None
    models: list[ModelEntry]
    providers: list[ProviderStatus]


class AlwaysAllowed(Out):
    id: str
    key: str
    created_at: str | None


class SettingsView(Out):
    approval_policy: str
    approval_policy_locked: bool
    always_allowed: list[AlwaysAllowed]


class Approval(Out):
    id: str
    run_id: str
    session_id: str
    call_id: str
    tool: str
    arguments: str
    reason: str
    status: str
    decision: str | None
    created_at: str
    resolved_at: str | None
