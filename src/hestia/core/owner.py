"""Who owns a run: this process's identity, and whether another owner is still alive."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Owner:
    """`host:pid:boot` — the boot id tells a restarted process from its dead predecessor."""

    host: str
    pid: int
    boot: str

    @classmethod
    def current(cls) -> Owner:
        """A fresh identity for this process."""
        return cls(socket.gethostname(), os.getpid(), uuid.uuid4().hex[:12])

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.boot}"

    def sees_dead(self, other: str | None) -> bool:
        """Whether `other` is certainly gone: a process on this host that no longer exists."""
        if not other:
            return True
        host, _, rest = other.partition(":")
        pid_text, _, boot = rest.partition(":")
        if host != self.host or not pid_text.isdigit():
            return False  # another host: only its lease can tell
        pid = int(pid_text)
        if pid == self.pid:
            return boot != self.boot
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
