"""The tool seam: one small protocol each built-in tool implements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..workspace import Workspace


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool gives back to the model: text, and whether it is an error."""

    output: str
    is_error: bool = False


@dataclass(slots=True)
class ToolContext:
    """What a tool may use: the session's workspace, limits, and a sink for live output."""

    workspace: Workspace
    # Called with chunks of output as a long command produces them (may be None).
    on_output: Callable[[str], None] | None = None
    limits: dict[str, Any] = field(default_factory=dict)


class Tool(Protocol):
    """A built-in tool. `run` never raises for bad arguments or failures: it returns an error."""

    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Do the work; cancellation (asyncio.CancelledError) must stop it and clean up."""
        ...
