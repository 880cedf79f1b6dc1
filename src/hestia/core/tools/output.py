"""Keeping tool output within what a model can read: cut in the middle with a clear note."""

from __future__ import annotations

MAX_OUTPUT = 30_000


def truncate(text: str, limit: int = MAX_OUTPUT) -> str:
    """`text`, or its head and tail around a note saying how much was left out."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n[… {omitted:,} characters omitted …]\n{text[-tail:]}"
