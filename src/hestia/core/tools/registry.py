"""The built-in tools by name, their specs for the model, and the one safe way to run a call.

`run_tool` never raises for anything the model wrote or a tool ran into: bad JSON, an unknown
tool, arguments that break the schema, a path outside the workspace, a failing disk — each
comes back as a `ToolResult` with `is_error=True` and a sentence the model can act on. Only
cancellation propagates (the run is being stopped).
"""

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
_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}
_ARTICLES = {"integer": "an integer", "object": "an object", "array": "an array"}


def tool_specs() -> list[ToolSpec]:
    """What the model is told about each tool."""
    return [ToolSpec(t.name, t.description, t.parameters) for t in BUILTIN_TOOLS.values()]


async def run_tool(name: str, arguments_json: str, ctx: ToolContext) -> ToolResult:
    """Parse the model's arguments and run the tool; every failure is an error result."""
    tool = BUILTIN_TOOLS.get(name)
    if tool is None:
        known = ", ".join(BUILTIN_TOOLS)
        return ToolResult(f"There is no tool named {name!r}. The tools are: {known}.", True)
    try:
        args = json.loads(arguments_json) if arguments_json and arguments_json.strip() else {}
    except (ValueError, RecursionError) as exc:
        return ToolResult(
            f"The arguments for {name} are not valid JSON ({exc}); send one JSON object.", True
        )
    args, problem = check_arguments(tool.parameters, args)
    if problem is not None:
        return ToolResult(f"Bad arguments for {name}: {problem}", is_error=True)
    try:
        return await tool.run(args, ctx)
    except HestiaError as exc:
        return ToolResult(exc.message, is_error=True)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        return ToolResult(f"{name} failed: {exc.strerror or exc}{where}.", is_error=True)
    except Exception as exc:  # a bug in a tool must not end the run
        log.exception("tool %s failed", name)
        return ToolResult(f"{name} failed unexpectedly: {type(exc).__name__}: {exc}", True)


def check_arguments(schema: dict[str, Any], args: Any) -> tuple[dict[str, Any], str | None]:
    """The arguments, lightly normalised, and a sentence saying how they break the schema.

    Handles the flat schemas of the built-in tools: required keys, no unknown keys, types and
    integer bounds. `null` for an optional argument means "not given", and a whole-number
    float such as `30.0` counts as an integer: models write both.
    """
    if not isinstance(args, dict):
        return {}, f"the arguments must be a JSON object, not {type(args).__name__}."
    properties: dict[str, Any] = schema.get("properties", {})
    required: list[str] = schema.get("required", [])
    args = {k: v for k, v in args.items() if not (v is None and k not in required)}
    missing = [key for key in required if key not in args]
    if missing:
        return args, f"missing {', '.join(missing)} (required: {', '.join(required)})."
    unknown = [key for key in args if key not in properties]
    if unknown and schema.get("additionalProperties") is False:
        expected = ", ".join(properties) or "no arguments"
        return args, f"unknown {', '.join(unknown)}; the arguments are: {expected}."
    for key, value in list(args.items()):
        expected = properties.get(key, {}).get("type")
        if expected == "integer" and isinstance(value, float) and value.is_integer():
            value = args[key] = int(value)
        python_type = _TYPES.get(expected or "")
        wrong_bool = isinstance(value, bool) and expected != "boolean"
        if python_type and (not isinstance(value, python_type) or wrong_bool):
            return args, f"{key} must be {_ARTICLES.get(expected or '', f'a {expected}')}."
        low, high = properties[key].get("minimum"), properties[key].get("maximum")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if (low is not None and value < low) or (high is not None and value > high):
                if low is not None and high is not None:
                    bounds = f"between {low} and {high}"
                else:
                    bounds = f"at least {low}" if high is None else f"at most {high}"
                return args, f"{key} must be {bounds}."
    return args, None
