"""The workspace jail (I10): every path from the API or a tool resolves inside one folder.

A path is refused — never "cleaned up" into something else — when it is absolute, climbs out
with `..`, holds NUL or control characters (C0 and C1), text-direction controls, lone
surrogates, backslashes, percent-escapes of `.`/`/`/`\\`, or Unicode look-alikes that
normalise (NFKC) to `.` or `/`; and when, after symlinks are resolved, it lands outside the
workspace root.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from ..errors import BadRequest, NotFound

_ESCAPED = re.compile(r"%(2e|2f|5c|00|25)", re.IGNORECASE)
# Slashes and dots that NFKC leaves alone but that read as '/' or '.' on screen.
_LOOK_ALIKES = frozenset("\u2215\u2044\u29f8\u29f9\u2216\ufe68\u2024\u2025\ufe52")
# Bidirectional overrides and isolates: they make `evil\u202etxt.exe` read as `evilexe.txt`.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAX_PATH_LENGTH = 4096
# The longest file or folder name most file systems allow (NAME_MAX).
MAX_NAME_BYTES = 255


class PathRefused(BadRequest):
    """A path that would leave the workspace, or that only a trick would write."""

    code = "path_outside_workspace"


class Workspace:
    """One session's folder; `resolve` is the only way from a user's path to a real one."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def ensure(self) -> Workspace:
        """Create the folder (owner-only) if it does not exist yet."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self

    def resolve(self, path: str | None, *, must_exist: bool = False) -> Path:
        """The real path for `path` (relative to the root; empty means the root itself)."""
        text = check_path_text(path or "")
        candidate = (self.root / text) if text else self.root
        # strict=False: a path that does not exist yet (a file to write) still resolves its
        # existing parents, symlinks included.
        real = Path(os.path.realpath(candidate))
        if real != self.root and self.root not in real.parents:
            raise PathRefused(f"The path {path!r} leads outside the session's workspace.")
        if must_exist and not real.exists():
            raise NotFound(f"There is no {path!r} in the workspace.", code="file_not_found")
        return real

    def relative(self, real: Path) -> str:
        """How a real path inside the workspace is shown: relative, with `/`."""
        return real.relative_to(self.root).as_posix() if real != self.root else ""


def session_workspace(data_dir: Path, session_id: str, configured: str | None) -> Workspace:
    """A session's workspace: the folder the user chose, or its own folder in the data dir."""
    if configured:
        return Workspace(Path(configured))
    return Workspace(data_dir / "workspaces" / session_id).ensure()


def check_path_text(path: str) -> str:
    """Refuse paths that are absolute, climb out, or hide separators; returns the path."""
    if len(path) > MAX_PATH_LENGTH:
        raise PathRefused("The path is too long.", code="invalid_path")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in path):
        raise PathRefused("The path holds control characters.", code="invalid_path")
    if any(c in _BIDI for c in path):
        raise PathRefused("The path holds invisible text-direction controls.", code="invalid_path")
    try:
        path.encode()
    except UnicodeEncodeError:
        raise PathRefused("The path is not valid Unicode text.", code="invalid_path") from None
    if "\\" in path:
        raise PathRefused("Use '/' in paths; '\\' is not allowed.", code="invalid_path")
    if any(len(part.encode()) > MAX_NAME_BYTES for part in path.split("/")):
        raise PathRefused(
            f"A name in the path is longer than {MAX_NAME_BYTES} bytes.", code="invalid_path"
        )
    if _ESCAPED.search(path):
        raise PathRefused(
            "The path holds percent-escapes of '.', '/' or '\\'.", code="invalid_path"
        )
    normal = unicodedata.normalize("NFKC", path)
    if _looks_like_trick(path, normal) or any(ch in _LOOK_ALIKES for ch in path):
        raise PathRefused(
            "The path holds characters that look like '.' or '/'.", code="invalid_path"
        )
    if path.startswith(("/", "~")):
        raise PathRefused(
            f"The path {path!r} must be relative to the workspace.", code="path_outside_workspace"
        )
    if ".." in path.split("/"):
        raise PathRefused(f"The path {path!r} climbs out with '..'.", code="path_outside_workspace")
    return path


def _looks_like_trick(path: str, normal: str) -> bool:
    """Whether normalising introduced a dot or a slash that the text did not have."""
    return normal != path and any(normal.count(c) != path.count(c) for c in "./\\")
