"""Hestia's own JSON export (`format: "hestia-session"`, version 1) back into a session.

The export (core/export.py) holds the session's fields, every message — superseded ones too —
with seq, role, content, parts, status and time, and a summary of its runs. An import makes a
new session with new ids and the same title, times, pin, archive flag and messages (seqs kept);
runs are not imported (their run ids are dropped), a message that was still `streaming` comes
back `interrupted`, and the workspace is not carried over (a path on the other machine). The
source is `hestia` with the exported session's id, so importing one export twice returns the
session made the first time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from ...errors import BadRequest
from ..runtimes import RUNTIMES
from . import ImportedMessage, ImportedSession

SOURCE = "hestia"
FORMAT = "hestia-session"
VERSION = 1
MAX_SEQ = 2**31 - 1
# The fields each part type must carry as text: history and providers read them directly.
PART_FIELDS = {
    "tool_call": ("id", "name", "arguments"),
    "tool_result": ("call_id", "name"),
    "thinking": ("text", "signature"),
    "redacted_thinking": ("data",),
    "reasoning": ("text",),
}


def _storable_time(value: datetime) -> datetime:
    """In UTC, and within the years both databases store."""
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("is not a time that can be stored") from None
    if not 1900 <= value.year <= 9000:
        raise ValueError("must be between the years 1900 and 9000")
    return value


Time = Annotated[AwareDatetime, AfterValidator(_storable_time)]


class _Loose(BaseModel):
    # Unknown fields are ignored: a newer export may carry more than this version reads.
    model_config = ConfigDict(extra="ignore")


class _Message(_Loose):
    seq: StrictInt = Field(ge=1, le=MAX_SEQ)
    role: Literal["user", "assistant", "tool", "system"]
    content: StrictStr
    status: Literal["complete", "streaming", "interrupted", "cancelled", "error"] = "complete"
    superseded: StrictBool = False
    created_at: Time
    parts: list[dict[str, Any]] | None = None

    @field_validator("parts")
    @classmethod
    def _known_parts_complete(cls, parts: list[dict[str, Any]] | None) -> Any:
        for index, part in enumerate(parts or []):
            for name in PART_FIELDS.get(part.get("type"), ()):  # type: ignore[arg-type]
                if not isinstance(part.get(name), str):
                    raise ValueError(f"part {index} ({part['type']}) needs a text '{name}'")
        return parts


class _Session(_Loose):
    id: StrictStr = Field(min_length=1, max_length=200)
    title: StrictStr = Field(max_length=1000)
    title_source: Literal["default", "auto", "user"] = "user"
    model: StrictStr | None = Field(default=None, max_length=200)
    runtime: StrictStr = "builtin"
    created_at: Time
    updated_at: Time
    pinned: StrictBool = False
    archived: StrictBool = False
    approval_policy: Literal["ask", "dangerous", "never"] | None = None


class _Export(_Loose):
    format: Literal["hestia-session"]
    version: Literal[1]
    session: _Session
    messages: list[_Message]

    @model_validator(mode="after")
    def _increasing(self) -> _Export:
        last = 0
        for index, message in enumerate(self.messages):
            if message.seq <= last:
                raise ValueError(
                    f"messages[{index}].seq is {message.seq}, but seqs must increase "
                    f"(the one before is {last})"
                )
            last = message.seq
        return self


def is_export(data: Any) -> bool:
    """Whether `data` claims to be a Hestia session export."""
    return isinstance(data, dict) and data.get("format") == FORMAT


def parse(data: dict[str, Any]) -> ImportedSession:
    """A Hestia export → an ImportedSession; BadRequest naming the first thing wrong."""
    try:
        export = _Export.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(
            f"This is not a valid Hestia export: {_first_error(exc)}.", code="invalid_import"
        ) from None
    session = export.session
    messages = [
        ImportedMessage(
            role=m.role,
            content=m.content,
            created_at=m.created_at,
            parts=list(m.parts or []),
            status="interrupted" if m.status == "streaming" else m.status,
            superseded=m.superseded,
            seq=m.seq,
        )
        for m in export.messages
    ]
    return ImportedSession(
        source=SOURCE,
        source_id=session.id,
        title=session.title,
        title_source=session.title_source,
        created_at=session.created_at,
        updated_at=session.updated_at,
        messages=messages,
        pinned=session.pinned,
        archived=session.archived,
        model=session.model,
        runtime=session.runtime if session.runtime in RUNTIMES else "builtin",
        approval_policy=session.approval_policy,
    )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
