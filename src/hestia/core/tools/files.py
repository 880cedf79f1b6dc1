"""File tools: read, write, edit, list and search inside the workspace (every path jailed).

Paths go through `Workspace.resolve`, which raises `PathRefused`/`NotFound`; the registry
turns those into error results. Disk work runs in a worker thread so that a large workspace
never stalls the event loop that serves every other session's stream.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import ToolContext, ToolResult

if TYPE_CHECKING:  # imported by the first listing or search that reads a .gitignore
    import pathspec

# read_file: at most this many characters per call (about 25k tokens).
MAX_READ = 100_000
# Longest single line shown by read_file / search_files.
MAX_LINE = 2_000
MAX_SEARCH_LINE = 300
MAX_WRITE = 10 * 1024 * 1024
# read_file loads the file into memory: beyond this, shell tools (head, sed -n, grep) fit better.
MAX_READ_FILE = 50 * 1024 * 1024
MAX_LIST = 400
LIST_DEPTH = 3
MAX_MATCHES = 200
MAX_SEARCH_FILE = 1024 * 1024
MAX_SEARCH_FILES = 20_000
SEARCH_SECONDS = 15.0
SNIFF = 8192
# Never shown or searched: version control internals.
HIDDEN_DIRS = {".git", ".hg", ".svn"}
# Shown, but not walked into: huge generated trees that drown a listing or a search.
BULKY_DIRS = {"node_modules", ".venv", "venv", "__pycache__", ".mypy_cache", ".tox"}


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _path(description: str = "Path relative to the workspace root.") -> dict[str, str]:
    return {"type": "string", "description": description}


def looks_binary(sample: bytes) -> bool:
    """NUL bytes, or many bytes that are neither UTF-8 text nor ordinary control characters."""
    if b"\0" in sample:
        return True
    text = sample.decode("utf-8", errors="replace")
    # A sample cut inside a multi-byte character ends in one replacement: not a sign.
    odd = sum(1 for c in text[:-1] if c == "\ufffd" or (c < " " and c not in "\t\n\r\f\v\b\x1b"))
    return odd > max(8, len(text) // 10)


def _read_text(path: Path, *, strict: bool = False) -> str | None:
    """The file's text, or None when it is binary (or, with `strict`, not valid UTF-8)."""
    data = path.read_bytes()
    if looks_binary(data[:SNIFF]):
        return None
    try:
        return data.decode("utf-8", errors="strict" if strict else "replace")
    except UnicodeDecodeError:
        return None


def _default_mode() -> int:
    """0o666 minus the umask: the mode `open()` would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_NEW_FILE_MODE = _default_mode()


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else _NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".hestia-tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ReadFileTool:
    """`read_file {path, start_line?, end_line?}`."""

    name = "read_file"
    description = (
        "Read a UTF-8 text file from the workspace. Without line numbers the whole file is "
        "returned exactly as it is (no line-number prefixes). With start_line/end_line "
        "(1-based, inclusive) only those lines are returned, after a first line "
        "`[lines A-B of N]`. At most 100,000 characters are returned per call; a longer file "
        "starts with `[lines 1-B of N …]` and you read on with start_line. Binary files "
        "cannot be read."
    )
    parameters = _schema(
        {
            "path": _path(),
            "start_line": {"type": "integer", "minimum": 1, "description": "First line (1-based)."},
            "end_line": {
                "type": "integer",
                "minimum": 1,
                "description": "Last line, inclusive (default: the end of the file).",
            },
        },
        ["path"],
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """The file's text, or a range of its lines."""
        shown = args["path"]
        path = ctx.workspace.resolve(shown, must_exist=True)
        return await asyncio.to_thread(_read, path, shown, args)


def _read(path: Path, shown: str, args: dict[str, Any]) -> ToolResult:
    if path.is_dir():
        return ToolResult(f"{shown} is a folder; use list_files.", is_error=True)
    if path.stat().st_size > MAX_READ_FILE:
        return ToolResult(
            f"{shown} is larger than {MAX_READ_FILE // 2**20} MB; look at parts of it with "
            "shell tools such as head, sed -n or grep.",
            is_error=True,
        )
    text = _read_text(path)
    if text is None:
        return ToolResult(f"{shown} is a binary file; it cannot be read as text.", is_error=True)
    start, end = args.get("start_line"), args.get("end_line")
    if start is None and end is None and len(text) <= MAX_READ:
        return ToolResult(text if text else f"({shown} is empty)")
    lines = text.splitlines(keepends=True)
    if not lines:
        return ToolResult(f"({shown} is empty)")
    first = start or 1
    if first > len(lines) or (end is not None and end < first):
        return ToolResult(
            f"Lines {first}-{end if end is not None else first} are not in {shown}, which has "
            f"{len(lines)} lines.",
            is_error=True,
        )
    last = min(end or len(lines), len(lines))
    body: list[str] = []
    size = 0
    for number in range(first, last + 1):
        line = lines[number - 1]
        if len(line) > MAX_LINE:
            line = f"{line[:MAX_LINE]} [… line cut: {len(line) - MAX_LINE:,} more characters]\n"
        if body and size + len(line) > MAX_READ:
            last = number - 1
            break
        body.append(line)
        size += len(line)
    header = f"[lines {first}-{last} of {len(lines)}"
    if last < min(end or len(lines), len(lines)):
        header += f"; more than {MAX_READ:,} characters, read on with start_line={last + 1}"
    return ToolResult(f"{header}]\n{''.join(body)}")


class WriteFileTool:
    """`write_file {path, content}`."""

    name = "write_file"
    description = (
        "Create a text file in the workspace, or replace its whole content, with `content` "
        "(UTF-8; missing folders are created). To change part of an existing file, prefer "
        "edit_file."
    )
    parameters = _schema(
        {"path": _path(), "content": {"type": "string", "description": "The complete new text."}},
        ["path", "content"],
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Write the whole file atomically."""
        shown, content = args["path"], args["content"]
        if not isinstance(content, str):
            return ToolResult("`content` must be a string.", is_error=True)
        size = len(content.encode("utf-8", errors="surrogatepass"))
        if size > MAX_WRITE:
            return ToolResult(f"The content is larger than {MAX_WRITE // 2**20} MB.", True)
        path = ctx.workspace.resolve(shown)
        if path == ctx.workspace.root or path.is_dir():
            return ToolResult(f"{shown or '.'} is a folder.", is_error=True)
        existed = path.exists()
        try:
            await asyncio.to_thread(_write_atomic, path, content)
        except (NotADirectoryError, FileExistsError):
            return ToolResult(
                f"Cannot create {shown}: a part of its folder path is a file.", is_error=True
            )
        except UnicodeEncodeError:
            return ToolResult("`content` holds characters that are not valid Unicode.", True)
        verb = "Replaced" if existed else "Created"
        return ToolResult(f"{verb} {shown} ({size:,} bytes).")


class EditFileTool:
    """`edit_file {path, old, new}`: one exact search and replace."""

    name = "edit_file"
    description = (
        "Replace the exact text `old` with `new` in a workspace text file. `old` must match "
        "the file character for character (whitespace and indentation included) and appear "
        "exactly once: include enough surrounding lines to make it unique. Use an empty `new` "
        "to delete the text."
    )
    parameters = _schema(
        {
            "path": _path(),
            "old": {"type": "string", "description": "The exact text to replace."},
            "new": {"type": "string", "description": "The text to put in its place."},
        },
        ["path", "old", "new"],
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Replace the one occurrence of `old`."""
        shown, old, new = args["path"], args["old"], args["new"]
        if not old:
            return ToolResult(
                "`old` is empty: give the exact text to replace (use write_file to create or "
                "overwrite a whole file).",
                is_error=True,
            )
        if old == new:
            return ToolResult("`old` and `new` are the same; there is nothing to change.", True)
        path = ctx.workspace.resolve(shown, must_exist=True)
        return await asyncio.to_thread(_edit, path, shown, old, new)


_NUMBERED = re.compile(r"^\s*\d+(\t|: |\| )")


def _edit(path: Path, shown: str, old: str, new: str) -> ToolResult:
    if path.is_dir():
        return ToolResult(f"{shown} is a folder.", is_error=True)
    text = _read_text(path, strict=True)
    if text is None:
        return ToolResult(f"{shown} is not a UTF-8 text file; edit_file cannot change it.", True)
    count = text.count(old)
    if count == 0 and "\r\n" in text and "\n" in old and "\r\n" not in old:
        # The file uses Windows line endings; the model almost always writes plain '\n'.
        old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
        count = text.count(old)
    if count == 0:
        hint = ""
        if all(_NUMBERED.match(line) for line in old.splitlines() if line.strip()):
            hint = " It looks like `old` includes line numbers; they are not part of the file."
        return ToolResult(
            f"The text was not found in {shown}. `old` must match the file exactly, including "
            f"whitespace and indentation; read the file again and copy the text.{hint}",
            is_error=True,
        )
    if count > 1:
        return ToolResult(
            f"The text appears {count} times in {shown}; include more surrounding lines in "
            "`old` so that it appears exactly once.",
            is_error=True,
        )
    line = text[: text.index(old)].count("\n") + 1
    _write_atomic(path, text.replace(old, new, 1))
    return ToolResult(f"Edited {shown} at line {line}.")


class ListFilesTool:
    """`list_files {path?}`."""

    name = "list_files"
    description = (
        "List the files and folders under a workspace folder (default: the root), up to three "
        "levels deep and at most 400 entries, as paths relative to the workspace root: folders "
        "end with '/', files show their size. .git is left out; folders such as node_modules "
        "or .venv are shown but not opened. Call again with a deeper path to see more."
    )
    parameters = _schema({"path": _path("Folder to list (default: the workspace root).")}, [])

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """A listing, breadth-first within the cap, shown as a tree with folders first."""
        shown = args.get("path") or ""
        base = ctx.workspace.ensure().resolve(shown, must_exist=True)
        if not base.is_dir():
            return ToolResult(f"{shown} is a file, not a folder; use read_file.", is_error=True)
        return await asyncio.to_thread(_list, ctx.workspace.root, base)


def _list(root: Path, base: Path) -> ToolResult:
    entries, complete = _breadth_first(base, LIST_DEPTH, MAX_LIST)
    if not entries:
        return ToolResult("(empty folder)")
    entries.sort(key=lambda e: [(not is_dir, part) for part, is_dir in e[1]])
    lines = []
    for path, _ in entries:
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            lines.append(f"{rel} -> {os.readlink(path)}")
        elif path.is_dir():
            lines.append(f"{rel}/" + ("  (not listed)" if path.name in BULKY_DIRS else ""))
        else:
            try:
                lines.append(f"{rel}  ({path.stat().st_size:,} bytes)")
            except OSError:
                lines.append(rel)
    if not complete:
        lines.append(f"[… stopped after {MAX_LIST} entries: list a subfolder to see more …]")
    return ToolResult("\n".join(lines))


def _breadth_first(
    base: Path, depth: int, limit: int
) -> tuple[list[tuple[Path, list[tuple[str, bool]]]], bool]:
    """Up to `limit` entries, level by level, so a big first folder cannot hide the others."""
    found: list[tuple[Path, list[tuple[str, bool]]]] = []
    level: list[tuple[Path, list[tuple[str, bool]]]] = [(base, [])]
    for _ in range(depth):
        following = []
        for folder, key in level:
            try:
                children = sorted(folder.iterdir(), key=lambda p: p.name)
            except OSError:
                continue
            for child in children:
                if child.name in HIDDEN_DIRS:
                    continue
                is_dir = child.is_dir() and not child.is_symlink()
                if len(found) >= limit:
                    return found, False
                entry = (child, [*key, (child.name, is_dir)])
                found.append(entry)
                if is_dir and child.name not in BULKY_DIRS:
                    following.append(entry)
        level = following
    return found, True


class SearchFilesTool:
    """`search_files {pattern, path?}`: a regex over text files, honouring .gitignore."""

    name = "search_files"
    description = (
        "Search the workspace's text files for a Python regular expression (re.search on each "
        "line; use (?i) to ignore case) and return matching lines as `path:line: text`, paths "
        "relative to the workspace root, at most 200 matches. `path` limits the search to a "
        "folder or one file. Files ignored by .gitignore, .git, node_modules and the like, "
        "binary files and files over 1 MB are skipped."
    )
    parameters = _schema(
        {
            "pattern": {"type": "string", "description": "A Python regular expression."},
            "path": _path("Folder or file to search (default: the whole workspace)."),
        },
        ["pattern"],
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Matching lines."""
        try:
            regex = re.compile(args["pattern"])
        except re.error as exc:
            return ToolResult(f"The pattern is not a valid regular expression: {exc}.", True)
        except RecursionError:
            return ToolResult("The pattern is too deeply nested.", is_error=True)
        base = ctx.workspace.ensure().resolve(args.get("path") or "", must_exist=True)
        return await asyncio.to_thread(_search, ctx.workspace.root, base, regex)


def _search(root: Path, base: Path, regex: re.Pattern[str]) -> ToolResult:
    matches: list[str] = []
    files = 0
    deadline = time.monotonic() + SEARCH_SECONDS
    stopped = ""
    for path in [base] if base.is_file() else _searchable(root, base):
        files += 1
        if files > MAX_SEARCH_FILES or time.monotonic() > deadline:
            stopped = f"[… search stopped after {files - 1:,} files: give a narrower path …]"
            break
        try:
            text = _read_text(path) if path.stat().st_size <= MAX_SEARCH_FILE else None
        except OSError:
            continue
        if text is None:
            continue
        rel = path.relative_to(root).as_posix()
        for number, line in enumerate(text.splitlines(), 1):
            if regex.search(line):
                if len(matches) >= MAX_MATCHES:
                    stopped = f"[… stopped after {MAX_MATCHES} matches: narrow the pattern …]"
                    break
                if len(line) > MAX_SEARCH_LINE:
                    line = line[:MAX_SEARCH_LINE] + " […]"
                matches.append(f"{rel}:{number}: {line}")
        if stopped:
            break
    if not matches:
        return ToolResult(stopped or "No matches.")
    return ToolResult("\n".join(matches + ([stopped] if stopped else [])))


class _Ignores:
    """The .gitignore rules of a workspace: every .gitignore from the root down, git's way.

    The deepest file with a matching rule decides (so `!keep.log` in a subfolder re-includes
    what the root ignores), and an ignored folder is not walked, as in git. `.git/info/exclude`
    counts as a root-level file.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._specs:
            lines: list[str] = []
            sources = [folder / ".gitignore"]
            if folder == self.root:
                sources.insert(0, folder / ".git" / "info" / "exclude")
            for source in sources:
                try:
                    lines += source.read_text(errors="replace").splitlines()
                except OSError:
                    pass
            if lines:
                import pathspec

                self._specs[folder] = pathspec.GitIgnoreSpec.from_lines(lines)
            else:
                self._specs[folder] = None
        return self._specs[folder]

    def ignored(self, path: Path, *, is_dir: bool, top: Path) -> bool:
        """Whether the rules in `top` and the folders between it and `path` ignore `path`."""
        folder = path.parent
        while True:
            spec = self._spec(folder)
            if spec is not None:
                rel = path.relative_to(folder).as_posix() + ("/" if is_dir else "")
                decision = spec.check_file(rel).include
                if decision is not None:
                    return decision
            if folder == top or folder == self.root:
                return False
            folder = folder.parent


def _searchable(root: Path, base: Path) -> Iterator[Path]:
    """Files under `base` that no .gitignore excludes (a folder named explicitly is searched)."""
    ignores = _Ignores(root)
    # Rules above `base` apply, unless they ignore `base` itself: then the user asked for it.
    top = root if base == root or not ignores.ignored(base, is_dir=True, top=root) else base
    for folder, dirs, files in os.walk(base):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in HIDDEN_DIRS
            and d not in BULKY_DIRS
            and not (here / d).is_symlink()
            and not ignores.ignored(here / d, is_dir=True, top=top)
        )
        for name in sorted(files):
            path = here / name
            # Symlinks are skipped: one may point outside the workspace (I10).
            if path.is_symlink() or ignores.ignored(path, is_dir=False, top=top):
                continue
            yield path
