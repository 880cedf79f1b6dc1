"""The built-in tools by name, their specs for the model, and the one safe way to run a call."""

from __future__ import annotations

import json
import logging
from typing import Any

from ...errors import HestiaError
from ...providers.base import ToolSpec
from .base import Tool, ToolContext, ToolResult
from .fetch import FetchUrlTool
from .files import EditFileTool, ListFilesTool, ReadFileTool, SearchFilesTool, WriteFileTool
from .shell import ShellTool

log = logging.getLogger(__name__)

BUILTIN_TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        ShellTool(),
        ReadFileTool(),
        WriteFileTool(),
        EditFileTool(),
        ListFilesTool(),
        SearchFilesTool(),
        FetchUrlTool(),
    )
}
_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "integer": int, "object": dict}


def tool_specs() -> list[ToolSpec]:
    """What the model is told about each tool."""
    return [ToolSpec(t.name, t.description, t.parameters) for t in BUILTIN_TOOLS.values()]


async def run_tool(name: str, arguments: str, ctx: ToolContext) -> ToolResult:
    """Parse the model's arguments and run the tool; every failure is an error result."""
    tool = BUILTIN_TOOLS.get(name)
    if tool is None:
        known = ", ".join(BUILTIN_TOOLS)
        return ToolResult(f"There is no tool named {name!r}. Tools: {known}.", is_error=True)
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        return ToolResult(f"The arguments for {name} are not valid JSON.", is_error=True)
    problem = check_arguments(tool.parameters, args)
    if problem is not None:
        return ToolResult(f"Bad arguments for {name}: {problem}", is_error=True)
    try:
        return await tool.run(args, ctx)
    except HestiaError as exc:
        return ToolResult(exc.message, is_error=True)
    except OSError as exc:
        return ToolResult(f"{name} failed: {exc.strerror or exc}.", is_error=True)
    except Exception as exc:  # a tool bug must not end the run
        log.exception("tool %s failed", name)
        return ToolResult(f"{name} failed unexpectedly: {type(exc).__name__}: {exc}", True)


def check_arguments(schema: dict[str, Any], args: Any) -> str | None:
    """A sentence saying how `args` breaks the (flat) JSON schema, or None."""
    if not isinstance(args, dict):
        return "they must be a JSON object."
    properties = schema.get("properties", {})
    missing = [key for key in schema.get("required", []) if key not in args]
    if missing:
        return f"missing {', '.join(missing)}."
    unknown = [key for key in args if key not in properties]
    if unknown:
        return f"unknown {', '.join(unknown)}; expected {', '.join(properties)}."
    for key, value in args.items():
        expected = properties[key].get("type")
        python_type = _TYPES.get(expected or "")
        if python_type and (not isinstance(value, python_type) or isinstance(value, bool)):
            return f"{key} must be a {expected}."
        minimum, maximum = properties[key].get("minimum"), properties[key].get("maximum")
        if isinstance(value, int) and (
            (minimum is not None and value < minimum) or (maximum is not None and value > maximum)
        ):
            return f"{key} must be between {minimum} and {maximum}."
    return None
