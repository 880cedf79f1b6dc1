"""A session's workspace files for the API: list, read, download, write, upload (I10).

Every user path goes through `Workspace.resolve` (the jail); nothing here joins paths itself
except a checked plain file name onto an already resolved folder.
"""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import BadRequest, NotFound, TooLarge
from ..ids import iso
from ..store import sessions as session_store
from ..store.db import Database
from .workspace import PathRefused, Workspace, check_path_text, session_workspace

MAX_ENTRIES = 5000
SNIFF_BYTES = 8192


class FileService:
    """Files in sessions' workspaces; the routes only shape HTTP around these."""

    def __init__(self, *, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    @property
    def max_bytes(self) -> int:
        return self.settings.max_file_bytes

    async def workspace_for(self, session_id: str) -> Workspace:
        """The session's workspace; NotFound for an unknown session."""
        async with self.db.read() as conn:
            row = await session_store.get(conn, session_id=session_id)
        if row is None:
            raise NotFound(f"There is no session {session_id}.", code="session_not_found")
        return session_workspace(self.settings.data_dir, session_id, row["workspace"])

    async def list(self, session_id: str, path: str | None) -> dict[str, Any]:
        """A folder's entries: folders first, then by name; at most MAX_ENTRIES."""
        workspace = await self.workspace_for(session_id)
        return await asyncio.to_thread(_list, workspace, path)

    async def read(self, session_id: str, path: str | None) -> dict[str, Any]:
        """A file's text (`content`), or `binary: true` and `content: null`."""
        workspace = await self.workspace_for(session_id)
        real, data, st = await asyncio.to_thread(_read, workspace, path, self.max_bytes)
        binary = is_binary(data)
        return {
            "path": workspace.relative(real),
            "size": len(data),
            "modified": _modified(st),
            "binary": binary,
            "content": None if binary else data.decode("utf-8"),
        }

    async def read_bytes(self, session_id: str, path: str | None) -> tuple[str, bytes]:
        """A file's relative path and bytes, for a download."""
        workspace = await self.workspace_for(session_id)
        real, data, _ = await asyncio.to_thread(_read, workspace, path, self.max_bytes)
        return workspace.relative(real), data

    async def write(self, session_id: str, path: str | None, data: bytes) -> dict[str, Any]:
        """Create or replace a file atomically (its folders are created)."""
        workspace = await self.workspace_for(session_id)
        if not path or path.endswith("/"):
            raise BadRequest("Give the path of a file, not of a folder.", code="is_a_directory")
        self._check_size(len(data), path)
        return await asyncio.to_thread(_write, workspace, path, data)

    async def upload(
        self, session_id: str, folder: str | None, files: list[tuple[str, bytes]]
    ) -> dict[str, Any]:
        """Write several `(file name, bytes)` into `folder`; all are checked before any is
        written, so a refused upload writes nothing."""
        workspace = await self.workspace_for(session_id)
        if not files:
            raise BadRequest("Send at least one file in the field 'files'.", code="no_files")
        # The folder goes through the jail as given (a leading '/' is refused, not stripped).
        base = workspace.relative(workspace.resolve(folder))
        targets = []
        for name, data in files:
            name = _plain_name(name)
            self._check_size(len(data), name)
            relative = f"{base}/{name}" if base else name
            workspace.resolve(relative)  # refuse before writing anything
            targets.append((relative, data))
        written = [await asyncio.to_thread(_write, workspace, rel, data) for rel, data in targets]
        return {"path": base, "files": written}

    def _check_size(self, size: int, path: str | None) -> None:
        if size > self.max_bytes:
            raise TooLarge(
                f"{path or 'The file'} is {size:,} bytes; files may be at most "
                f"{self.max_bytes:,} bytes.",
                code="file_too_large",
            )


def is_binary(data: bytes) -> bool:
    """NUL in the first 8 KiB, or not UTF-8."""
    if b"\x00" in data[:SNIFF_BYTES]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _modified(st: os.stat_result) -> str:
    return iso(datetime.fromtimestamp(st.st_mtime, UTC)) or ""


def _list(workspace: Workspace, path: str | None) -> dict[str, Any]:
    real = workspace.resolve(path, must_exist=True)
    if not real.is_dir():
        raise BadRequest(f"{path!r} is a file, not a folder.", code="not_a_directory")
    entries: list[dict[str, Any]] = []
    try:
        with os.scandir(real) as it:
            for entry in it:
                if not _is_utf8(entry.name):
                    continue  # such a name cannot be addressed through the API anyway
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished while listing
                if stat.S_ISLNK(st.st_mode):
                    kind = "symlink"
                elif stat.S_ISDIR(st.st_mode):
                    kind = "dir"
                else:
                    kind = "file"
                entries.append(
                    {
                        "name": entry.name,
                        "path": workspace.relative(real / entry.name),
                        "type": kind,
                        "size": st.st_size if kind == "file" else None,
                        "modified": _modified(st),
                    }
                )
    except PermissionError:
        raise BadRequest(f"{path!r} cannot be read.", code="permission_denied") from None
    entries.sort(key=lambda e: (e["type"] != "dir", e["name"].casefold(), e["name"]))
    return {
        "path": workspace.relative(real),
        "entries": entries[:MAX_ENTRIES],
        "truncated": len(entries) > MAX_ENTRIES,
    }


def _read(workspace: Workspace, path: str | None, max_bytes: int) -> tuple[Path, bytes, Any]:
    real = workspace.resolve(path, must_exist=True)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise NotFound(f"There is no {path!r} in the workspace.", code="file_not_found") from None
    except IsADirectoryError:
        raise _is_a_directory(path) from None
    except PermissionError:
        raise BadRequest(f"{path!r} cannot be read.", code="permission_denied") from None
    except OSError:  # ELOOP: swapped for a symlink after resolving
        raise PathRefused(f"The path {path!r} changed while it was opened.") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise _is_a_directory(path)
        if not stat.S_ISREG(st.st_mode):
            raise BadRequest(f"{path!r} is not a regular file.", code="not_a_file")
        if st.st_size > max_bytes:
            raise _too_large(path, st.st_size, max_bytes)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(path, len(data), max_bytes)
    return real, data, st


def _write(workspace: Workspace, path: str | None, data: bytes) -> dict[str, Any]:
    real = workspace.resolve(path)
    if real == workspace.root or real.is_dir():
        raise _is_a_directory(path)
    if real.exists() and not real.is_file():
        raise BadRequest(f"{path!r} is not a regular file.", code="not_a_file")
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise BadRequest(
            f"A part of {path!r} is a file, not a folder.", code="not_a_directory"
        ) from None
    # The folders just made must still be inside (a symlink swapped in meanwhile is refused).
    if workspace.resolve(workspace.relative(real.parent)) != real.parent:
        raise PathRefused(f"The path {path!r} changed while it was written.")
    mode = stat.S_IMODE(real.stat().st_mode) if real.exists() else 0o600
    fd, temp = tempfile.mkstemp(dir=real.parent, prefix=".hestia-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, real)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    st = real.stat()
    return {"path": workspace.relative(real), "size": st.st_size, "modified": _modified(st)}


def _plain_name(name: str | None) -> str:
    """An uploaded file's name: one path component, no tricks."""
    name = name or ""
    if not name or name in (".", "..") or "/" in name:
        raise PathRefused(
            f"An uploaded file's name must be a plain file name, not {name!r}.",
            code="invalid_file_name",
        )
    return check_path_text(name)


def _is_a_directory(path: str | None) -> BadRequest:
    what = repr(path) if path else "The workspace's root"
    return BadRequest(f"{what} is a folder, not a file.", code="is_a_directory")


def _too_large(path: str | None, size: int, max_bytes: int) -> TooLarge:
    return TooLarge(
        f"{path!r} is {size:,} bytes; files may be at most {max_bytes:,} bytes.",
        code="file_too_large",
    )


def _is_utf8(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True
