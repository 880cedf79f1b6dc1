"""Request bodies. Unknown fields and wrong types are refused (422), never guessed at."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SessionCreate(Strict):
    title: str | None = Field(default=None, max_length=1000)
    model: str | None = None
    runtime: str | None = None
    workspace: str | None = None


class SessionPatch(Strict):
    title: str | None = None
    pinned: bool | None = None
    archived: bool | None = None
    model: str | None = None
    runtime: str | None = None
    workspace: str | None = None


class MessageCreate(Strict):
    content: str
    client_message_id: str | None = Field(default=None, min_length=1, max_length=200)
    model: str | None = Field(default=None, min_length=1, max_length=200)


class MessageEdit(Strict):
    content: str
