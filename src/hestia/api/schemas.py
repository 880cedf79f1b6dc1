"""Request bodies. Unknown fields and wrong types are refused (422), never guessed at."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        """JSON may escape lone surrogates (`"\\ud800"`) and NUL (`"\\u0000"`); neither is text
        that every database can store (PostgreSQL refuses NUL), so both are refused here."""
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ValueError("must be valid Unicode text (it holds a lone surrogate)") from None
            if "\x00" in value:
                raise ValueError("must not contain the NUL character")
        return value


class SessionCreate(Strict):
    title: str | None = Field(default=None, max_length=1000)
    model: str | None = None
    runtime: str | None = None
    workspace: str | None = None
    approval_policy: str | None = None


class SessionPatch(Strict):
    title: str | None = None
    pinned: bool | None = None
    archived: bool | None = None
    model: str | None = None
    runtime: str | None = None
    workspace: str | None = None
    approval_policy: str | None = None


class MessageCreate(Strict):
    content: str
    client_message_id: str | None = Field(default=None, min_length=1, max_length=200)
    model: str | None = Field(default=None, min_length=1, max_length=200)


class MessageEdit(Strict):
    content: str


class ApprovalDecision(Strict):
    decision: str


class SettingsPatch(Strict):
    """Null (or "") clears a saved value, back to the default; keys are write-only."""

    approval_policy: str | None = None
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    anthropic_api_key: str | None = None
    default_model: str | None = None
    theme: str | None = None
    runtime: str | None = None


class Login(Strict):
    password: str = Field(max_length=1024)


class PasswordChange(Strict):
    current: str | None = Field(default=None, max_length=1024)
    new: str = Field(max_length=1024)


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    read_only: bool = False


class RenderRequest(Strict):
    text: str
