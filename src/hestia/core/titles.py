"""A session's automatic title, taken from its first message."""

from __future__ import annotations

import re

DEFAULT_TITLE = "New session"
MAX_TITLE = 60
_SPACE = re.compile(r"\s+")


def title_from_message(content: str) -> str:
    """The first line of `content`, whitespace collapsed, cut at a word near 60 characters."""
    for line in content.splitlines():
        line = _SPACE.sub(" ", line).strip()
        if line:
            break
    else:
        return DEFAULT_TITLE
    if len(line) <= MAX_TITLE:
        return line
    cut = line[:MAX_TITLE].rsplit(" ", 1)[0]
    if len(cut) < MAX_TITLE // 2:
        cut = line[:MAX_TITLE]
    return cut.rstrip(" ,.;:-") + "…"
