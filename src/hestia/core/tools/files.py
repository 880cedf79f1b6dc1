"""File tools: read, write, edit, list and search inside the workspace (every path jailed)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pathspec

from ..workspace import Workspace
from .base import ToolContext, ToolResult
from .output import truncate

MAX_READ = 256 * 1024
MAX_WRITE = 10 * 1024 * 1024
MAX_LIST = 400
LIST_DEPTH = 3
MAX_MATCHES = 200
MAX_SEARCH_FILE = 1024 * 1024
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv"}


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


_PATH = {"type": "string", "description": "Path relative to the workspace root."}


def _read_text(path: Path) -> str | None:
    """The file's text, or None when it is binary."""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".hestia-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ReadFileTool:
    """`read_file {path, start_line?, end_line?}`."""

    name = "read_file"
    description = (
        "Read a text file from the workspace. Optionally only lines start_line..end_line "
        "(1-based, inclusive); a header line then says which lines are shown. Files over "
        "256 KB are shortened; binary files cannot be read."
    )
    parameters = _schema(
        {
            "path": _PATH,
            "start_line": {"type": "integer", "minimum": 1},
            "end_line": {"type": "integer", "minimum": 1},
        },
        ["path"],
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """The file's text (or a range of its lines)."""
        path = ctx.workspace.resolve(args["path"], must_exist=True)
        if path.is_dir():
            return ToolResult(f"{args['path']} is a folder; use list_files.", is_error=True)
        text = _read_text(path)
        if text is None:
            return ToolResult(f"{args['path']} is a binary file.", is_error=True)
        start, end = args.get("start_line"), args.get("end_line")
        if start is None and end is None:
            return ToolResult(truncate(text, MAX_READ))
        lines = text.splitlines(keepends=True)
        first = start or 1
        last = min(end or len(lines), len(lines))
        if first > len(lines) or (end is not None and end < first):
            return ToolResult(
                f"Lines {first}-{end or first} are not in {args['path']}, which has "
                f"{len(lines)} lines.",
                is_error=True,
            )
        body = "".join(lines[first - 1 : last])
        return ToolResult(f"[lines {first}-{last} of {len(lines)}]\n{truncate(body, MAX_READ)}")


class WriteFileTool:
    """`write_file {path, content}`."""

    name = "write_file"
    description = (
        "Create or overwrite a text file in the workspace with `content` (folders are created "
        "as needed). To change part of a file, prefer edit_file."
    )
    parameters = _schema({"path": _PATH, "content": {"type": "string"}}, ["path", "content"])

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Write the whole file."""
        path = ctx.workspace.resolve(args["path"])
        content = args["content"]
        if len(content.encode()) > MAX_WRITE:
            return ToolResult("The content is larger than 10 MB.", is_error=True)
        if path.is_dir():
            return ToolResult(f"{args['path']} is a folder.", is_error=True)
        existed = path.exists()
        _write_atomic(path, content)
        verb = "Overwrote" if existed else "Created"
        return ToolResult(f"{verb} {args['path']} ({len(content.encode()):,} bytes).")


class EditFileTool:
    """`edit_file {path, old, new}`: one exact search and replace."""

    name = "edit_file"
    description = (
        "Replace the exact text `old` with `new` in a workspace file. `old` must appear "
        "exactly once: include enough surrounding lines to make it unique."
    )
    parameters = _schema(
        {
            "path": _PATH,
            "old": {"type": "string", "description": "Exact text to replace."},
            "new": {"type": "string", "description": "Replacement text."},
        },
        ["path", "old", "new"],
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Replace the one occurrence of `old`."""
        path = ctx.workspace.resolve(args["path"], must_exist=True)
        old, new = args["old"], args["new"]
        if not old:
            return ToolResult("`old` is empty; give the exact text to replace.", is_error=True)
        if path.is_dir():
            return ToolResult(f"{args['path']} is a folder.", is_error=True)
        text = _read_text(path)
        if text is None:
            return ToolResult(f"{args['path']} is a binary file.", is_error=True)
        count = text.count(old)
        if count == 0:
            return ToolResult(f"The text was not found in {args['path']}.", is_error=True)
        if count > 1:
            return ToolResult(
                f"The text appears {count} times in {args['path']}; include more surrounding "
                "lines so that it appears once.",
                is_error=True,
            )
        _write_atomic(path, text.replace(old, new, 1))
        return ToolResult(f"Edited {args['path']}.")


class ListFilesTool:
    """`list_files {path?}`."""

    name = "list_files"
    description = (
        "List files and folders under a workspace folder (default: the root), three levels "
        "deep, folders marked with a trailing '/'. Skips .git, node_modules and the like."
    )
    parameters = _schema({"path": _PATH}, [])

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """A sorted listing with sizes."""
        base = ctx.workspace.ensure().resolve(args.get("path") or "", must_exist=True)
        if not base.is_dir():
            return ToolResult(f"{args.get('path')} is a file, not a folder.", is_error=True)
        lines: list[str] = []
        for path in _walk(base, LIST_DEPTH):
            if len(lines) >= MAX_LIST:
                lines.append(f"[… stopped after {MAX_LIST} entries …]")
                break
            rel = ctx.workspace.relative(path)
            if path.is_dir() and not path.is_symlink():
                lines.append(f"{rel}/")
            else:
                size = path.stat().st_size if path.exists() else 0
                lines.append(f"{rel}  ({size:,} bytes)")
        return ToolResult("\n".join(lines) if lines else "(empty)")


def _walk(base: Path, depth: int) -> Iterator[Path]:
    """Entries under `base`, folders first, `depth` levels deep."""
    try:
        entries = sorted(base.iterdir(), key=lambda p: (not p.is_dir(), p.name))
    except OSError:
        return
    for entry in entries:
        if entry.name in SKIP_DIRS:
            continue
        yield entry
        if entry.is_dir() and not entry.is_symlink() and depth > 1:
            yield from _walk(entry, depth - 1)


class SearchFilesTool:
    """`search_files {pattern, path?}`: a regex over text files, honouring .gitignore."""

    name = "search_files"
    description = (
        "Search the workspace's text files for a Python regular expression and return "
        "matching lines as `path:line: text` (at most 200). Files ignored by .gitignore, "
        "binary files and files over 1 MB are skipped."
    )
    parameters = _schema(
        {"pattern": {"type": "string"}, "path": {**_PATH, "description": "Folder to search."}},
        ["pattern"],
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Matching lines."""
        try:
            regex = re.compile(args["pattern"])
        except re.error as exc:
            return ToolResult(f"The pattern is not a valid regular expression: {exc}.", True)
        base = ctx.workspace.ensure().resolve(args.get("path") or "", must_exist=True)
        matches: list[str] = []
        for path in _searchable(ctx.workspace, base):
            text = _read_text(path) if path.stat().st_size <= MAX_SEARCH_FILE else None
            if text is None:
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if regex.search(line):
                    matches.append(f"{ctx.workspace.relative(path)}:{number}: {line[:300]}")
                    if len(matches) >= MAX_MATCHES:
                        matches.append(f"[… stopped after {MAX_MATCHES} matches …]")
                        return ToolResult("\n".join(matches))
        return ToolResult("\n".join(matches) if matches else "No matches.")


def _searchable(workspace: Workspace, base: Path) -> Iterator[Path]:
    """Files under `base` that no .gitignore (at the root or on the way down) excludes."""
    root = workspace.root
    for folder, dirs, files in os.walk(base):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        specs = _ignore_specs(root, here)
        dirs[:] = [d for d in dirs if not _ignored(specs, here / d, is_dir=True)]
        for name in sorted(files):
            path = here / name
            if path.is_symlink() or _ignored(specs, path, is_dir=False):
                continue
            yield path


def _ignore_specs(root: Path, folder: Path) -> list[tuple[Path, pathspec.PathSpec]]:
    """The .gitignore rules that apply in `folder`: its own and every parent's up to the root."""
    specs = []
    directory = root
    for part in ("", *folder.relative_to(root).parts):
        directory = directory / part if part else root
        ignore = directory / ".gitignore"
        if ignore.is_file():
            lines = ignore.read_text(errors="replace").splitlines()
            specs.append((directory, pathspec.PathSpec.from_lines("gitwildmatch", lines)))
    return specs


def _ignored(specs: list[tuple[Path, pathspec.PathSpec]], path: Path, *, is_dir: bool) -> bool:
    for directory, spec in specs:
        rel = path.relative_to(directory).as_posix() + ("/" if is_dir else "")
        if spec.match_file(rel):
            return True
    return False
