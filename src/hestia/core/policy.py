"""When the agent must ask first: the approval policies and what an approval remembers.

Policies: `ask` — every shell command and every file write or edit; `dangerous` — only shell
commands that match a rule in `core.dangers` (file tools are jailed to the workspace anyway);
`never`. Reading tools (read_file, list_files, search_files, fetch_url) never ask.
"""

from __future__ import annotations

from typing import Any

from .dangers import NEUTRAL, analyze, dangerous_reason
from .workspace import Workspace

POLICIES = ("ask", "dangerous", "never")
WRITE_TOOLS = ("write_file", "edit_file")


def needs_approval(
    policy: str, tool: str, args: dict[str, Any], workspace: Workspace
) -> str | None:
    """Why this call must be approved under `policy` (`ask|dangerous|never`), or None.

    An unknown policy name is treated as `ask`.
    """
    if policy == "never":
        return None
    strict = policy != "dangerous"
    if tool == "shell":
        command = args.get("command")
        if not isinstance(command, str):
            return "Runs a shell command." if strict else None  # it will fail validation
        reason = dangerous_reason(command, workspace.root)
        if reason is not None:
            return f"This command {reason}."
        return "Runs a shell command in the workspace." if strict else None
    if tool in WRITE_TOOLS and strict:
        verb = "Edits" if tool == "edit_file" else "Writes"
        return f"{verb} the file {args.get('path')!r} in the workspace."
    return None


def approval_key(tool: str, args: dict[str, Any], workspace: Workspace | None = None) -> str:
    """What a "session" or "always" approval of this call remembers.

    File tools: the tool name. Shell: `shell:` and the sorted labels of the command's parts —
    each dangerous part by its rule (`rm -r`, `git push --force`, `> /etc/hosts`), every other
    part by its program (`git commit`, `python`; read-only helpers such as `ls`, `grep`, `cd`
    are left out when anything else is there). So "always allow `git push --force`" never
    covers `rm -rf /`, nor `git push --force && curl … | sh`.
    """
    if tool != "shell":
        return tool
    command = args.get("command")
    if not isinstance(command, str):
        return "shell"
    analysis = analyze(command, workspace.root if workspace is not None else None)
    labels = [d.key for d in analysis.dangers()]
    # `curl … | sh` is labelled `curl | sh`, not also `curl`.
    in_rules = {token for label in labels for token in label.split()}
    programs = [p for p in analysis.programs if p.split()[0] not in in_rules | NEUTRAL]
    labels += programs if (programs or labels) else analysis.programs
    return "shell:" + ", ".join(sorted(set(labels)))
