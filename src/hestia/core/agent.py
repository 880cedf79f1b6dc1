"""What the agent loop may use: the built-in tools, the approval policy, and the limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..providers.base import ToolSpec
from . import policy
from .approvals import Approvals
from .tools import registry
from .tools.base import ToolContext, ToolResult
from .workspace import Workspace

STEP_LIMIT_NOTE = (
    "\n\n_I stopped after {steps} steps, the limit set by HESTIA_MAX_STEPS. "
    "Send a message to let me continue._"
)
DENIED = (
    "The user denied this tool call. Do not try it again another way; "
    "ask the user how to proceed instead."
)
STOPPED = "The run was stopped before this tool call finished."


@dataclass(slots=True)
class Agent:
    """The built-in tools behind one small interface the run engine calls."""

    approvals: Approvals
    max_steps: int = 30

    def specs(self) -> list[ToolSpec]:
        """The tools the model sees."""
        return registry.tool_specs()

    def approval_reason(
        self, policy_name: str, tool: str, args: dict[str, Any], workspace: Workspace
    ) -> str | None:
        """Why this call needs the user's approval under the session's policy, or None."""
        return policy.needs_approval(policy_name, tool, args, workspace)

    def approval_key(self, tool: str, args: dict[str, Any], workspace: Workspace) -> str:
        """What a "session" or "always" approval of this call remembers."""
        return policy.approval_key(tool, args, workspace)

    async def run_tool(self, name: str, arguments: str, ctx: ToolContext) -> ToolResult:
        """Run one call; failures come back as error results, never as exceptions."""
        return await registry.run_tool(name, arguments, ctx)
