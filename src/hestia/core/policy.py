"""When the agent must ask first: the approval policies and the dangerous-command rules.

`classify(command, root)` splits a shell command into its simple commands (across `;`, `&&`,
`||`, `|`, `&`, subshells, `$(…)` and backticks), looks through wrappers such as `env`,
`nohup`, `timeout` or `xargs`, and matches each against the rules below. It errs on the side
of asking: text it cannot parse counts as dangerous.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .workspace import Workspace

WRITE_TOOLS = ("write_file", "edit_file")

# Patterns only visible in the raw text (before it is split into commands).
_RAW_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(
            r"\b(curl|wget|fetch)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da|k)?sh\b|"
            r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(python3?|perl|ruby|node)\b"
        ),
        "pipe-to-shell",
        "runs a script downloaded from the internet",
    ),
    (
        re.compile(r"\b(ba|z)?sh\s+<\(\s*(curl|wget)\b|\beval\s+\"?\$\(\s*(curl|wget)\b"),
        "pipe-to-shell",
        "runs a script downloaded from the internet",
    ),
    (re.compile(r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:"), "fork-bomb", "is a fork bomb"),
    (re.compile(r">\s*/dev/(sd|nvme|hd|vd|xvd|mmcblk|disk)"), "raw-disk", "writes to a raw disk"),
)
_SEPARATORS = {";", "&&", "||", "|", "&", "|&", "(", ")", "\n", ";;"}
_WRAPPERS = {"env", "nohup", "time", "nice", "ionice", "command", "exec", "builtin", "stdbuf"}
_AS_ROOT = {"sudo", "su", "doas", "pkexec", "runuser"}
_DISK = {"mkfs", "fdisk", "sfdisk", "cfdisk", "parted", "wipefs", "mkswap", "dd", "shred"}
_POWER = {"shutdown", "reboot", "halt", "poweroff"}
_WRITERS = {"rm", "mv", "tee", "truncate", "touch", "mkdir", "rmdir", "unlink"}
_COPIERS = {"cp", "ln", "install", "rsync", "scp"}


@dataclass(frozen=True, slots=True)
class Danger:
    """A matched rule: `key` is what a remembered approval covers, `reason` is for people."""

    key: str
    reason: str


def needs_approval(
    policy: str, tool: str, args: dict[str, Any], workspace: Workspace
) -> str | None:
    """Why this call must be approved under `policy` (`ask|dangerous|never`), or None."""
    if policy == "never":
        return None
    if tool == "shell":
        danger = classify(str(args.get("command", "")), workspace.root)
        if danger is not None:
            return f"This command {danger.reason}."
        return "Runs a shell command in the workspace." if policy == "ask" else None
    if tool in WRITE_TOOLS and policy == "ask":
        return f"Changes the file {args.get('path')!r} in the workspace."
    return None


def approval_key(tool: str, args: dict[str, Any]) -> str:
    """What "session" and "always" approvals remember: the rule that matched, or the program."""
    if tool != "shell":
        return tool
    command = str(args.get("command", ""))
    danger = classify(command, None)
    if danger is not None:
        return f"shell:{danger.key}"
    commands = split_commands(command)
    program = os.path.basename(commands[0][0]) if commands and commands[0] else ""
    return f"shell:{program}"


def classify(command: str, root: Path | None) -> Danger | None:
    """The first dangerous rule `command` matches, or None."""
    for pattern, key, reason in _RAW_RULES:
        if pattern.search(command):
            return Danger(key, reason)
    try:
        commands = split_commands(command)
    except ValueError:
        return Danger("unparsable", "could not be read safely (unbalanced quotes)")
    for words in commands:
        danger = _classify_simple(words, root)
        if danger is not None:
            return danger
    return None


def split_commands(command: str) -> list[list[str]]:
    """The simple commands in `command`, as word lists (nested `$(…)` and backticks too)."""
    nested = re.findall(r"\$\(([^()]*)\)|`([^`]*)`", command)
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in _SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    for inner in nested:
        commands.extend(split_commands(inner[0] or inner[1]))
    return [words for words in commands if words]


def _unwrap(words: list[str]) -> list[str]:
    """Drop `VAR=value` assignments and wrappers such as `env`, `nohup`, `timeout 5`, `xargs`."""
    while words:
        head = os.path.basename(words[0])
        if "=" in words[0] and not words[0].startswith("="):
            words = words[1:]
        elif head in _WRAPPERS:
            words = [w for w in words[1:]]
            while words and words[0].startswith("-"):
                words = words[1:]
        elif head in ("timeout", "xargs", "watch"):
            words = words[1:]
            while words and (words[0].startswith("-") or words[0][:1].isdigit()):
                words = words[1:]
        else:
            return words
    return words


def _flags(words: list[str]) -> set[str]:
    """Short flags split into letters (`-rf` → r, f) and long flags as written."""
    found: set[str] = set()
    for word in words:
        if word.startswith("--"):
            found.add(word.split("=", 1)[0])
        elif word.startswith("-") and len(word) > 1:
            found.update(word[1:])
    return found


def _classify_simple(words: list[str], root: Path | None) -> Danger | None:
    words = _unwrap(words)
    if not words:
        return None
    program = os.path.basename(words[0])
    args = words[1:]
    flags = _flags(args)
    if program in _AS_ROOT:
        return Danger(program, f"runs as another user ({program})")
    if program == "rm" and ({"r", "R"} & flags or "--recursive" in flags):
        return Danger("rm -r", "deletes files recursively (rm -r)")
    if program in ("chmod", "chown", "chgrp") and ({"R"} & flags or "--recursive" in flags):
        return Danger(f"{program} -R", f"changes permissions recursively ({program} -R)")
    if program in _DISK or program.startswith("mkfs"):
        return Danger(program, f"can overwrite disks or erase data ({program})")
    if program in _POWER or (program == "init" and args[:1] in (["0"], ["6"])):
        return Danger(program, f"stops or restarts the machine ({program})")
    if (
        program == "systemctl"
        and args[:1]
        and args[0] in ("stop", "disable", "mask", "poweroff", "reboot", "halt", "kill")
    ):
        return Danger(f"systemctl {args[0]}", f"stops system services (systemctl {args[0]})")
    if program in ("killall", "pkill") or (program == "kill" and "-1" in args):
        return Danger(program, "kills processes it did not start")
    if program == "crontab" and "r" in flags:
        return Danger("crontab -r", "deletes the user's crontab")
    if program == "find" and ("-delete" in args or _find_exec_rm(args)):
        return Danger("find -delete", "deletes every file a search finds")
    if program == "git":
        return _classify_git(args)
    if program in ("apt", "apt-get", "dnf", "yum", "pacman", "brew") and (
        {"remove", "purge", "autoremove", "erase"} & set(args) or "R" in flags
    ):
        return Danger(f"{program} remove", "removes system packages")
    if program in ("pip", "pip3") and "uninstall" in args:
        return Danger("pip uninstall", "uninstalls Python packages")
    if program == "eval":
        return Danger("eval", "evaluates generated shell code")
    outside = _writes_outside(program, args, root)
    if outside is not None:
        return Danger(f"{program} outside", f"changes {outside!r}, outside the workspace")
    return None


def _find_exec_rm(args: list[str]) -> bool:
    for i, word in enumerate(args[:-1]):
        if word in ("-exec", "-execdir", "-ok") and os.path.basename(args[i + 1]) in (
            "rm",
            "shred",
        ):
            return True
    return False


def _classify_git(args: list[str]) -> Danger | None:
    sub = next((a for a in args if not a.startswith("-")), "")
    rest = args[args.index(sub) + 1 :] if sub else []
    flags = _flags(rest)
    if sub == "push" and (
        {"f"} & flags
        or {"--force", "--force-with-lease", "--mirror", "--delete"} & flags
        or any(a.startswith("+") for a in rest)
    ):
        return Danger("git push --force", "rewrites history on a remote (git push --force)")
    if sub == "reset" and "--hard" in flags:
        return Danger("git reset --hard", "throws away uncommitted work (git reset --hard)")
    if sub == "clean" and "f" in flags:
        return Danger("git clean -f", "deletes untracked files (git clean -f)")
    if sub == "checkout" and ("--" in rest or "." in rest) or sub == "restore" and rest:
        return None  # discards edits of tracked files only; recoverable enough to not ask
    return None


def _writes_outside(program: str, args: list[str], root: Path | None) -> str | None:
    """A path this command writes that lies outside the workspace, if any."""
    targets: list[str] = []
    for i, word in enumerate(args):
        if word in (">", ">>", ">|") and i + 1 < len(args):
            targets.append(args[i + 1])
    operands = [a for a in args if not a.startswith("-") and a not in (">", ">>", ">|")]
    if program in _COPIERS:
        targets.extend(operands[-1:])  # sources are only read
    elif program in _WRITERS:
        targets.extend(operands)
    for target in targets:
        if target.startswith("~") or ".." in Path(target).parts:
            return target
        if target.startswith("/") and not target.startswith("/dev/null"):
            if root is None:
                return target
            try:
                Path(os.path.realpath(target)).relative_to(root)
            except ValueError:
                return target
    return None
