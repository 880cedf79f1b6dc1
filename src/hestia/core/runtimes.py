"""Which agent runtimes this install can run: the built-in loop always, Hermes when installed.

Nothing here imports Hermes (it is slow to import and keeps process-global state); the web
process only looks for the package. Hermes runs happen in a worker process (`hermes.py`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import asdict, dataclass
from typing import Any

RUNTIMES = ("builtin", "hermes")
HERMES_DISTRIBUTION = "hermes-agent"
HERMES_INSTALL_HINT = "install it with pip install 'hestia[hermes]'"


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    """One runtime: whether it can run here, and if not, why."""

    name: str
    available: bool
    reason: str | None = None
    version: str | None = None

    def view(self) -> dict[str, Any]:
        """The JSON shape of `GET /api/models` `runtimes`."""
        return asdict(self)


def hermes_status() -> RuntimeStatus:
    """Whether `hermes-agent` is installed and importable in this Python."""
    try:
        version = importlib.metadata.version(HERMES_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        reason = f"hermes-agent is not installed; {HERMES_INSTALL_HINT}."
        return RuntimeStatus("hermes", False, reason)
    try:
        found = importlib.util.find_spec("run_agent") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return RuntimeStatus(
            "hermes",
            False,
            f"hermes-agent {version} is installed but its module run_agent cannot be found.",
            version,
        )
    return RuntimeStatus("hermes", True, None, version)


def builtin_status() -> RuntimeStatus:
    """The built-in loop, which can always run."""
    from .. import __version__

    return RuntimeStatus("builtin", True, None, __version__)


def statuses() -> list[RuntimeStatus]:
    """Every runtime, builtin first."""
    return [builtin_status(), hermes_status()]


def status_of(name: str) -> RuntimeStatus | None:
    """The status of one runtime, or None for an unknown name."""
    if name == "builtin":
        # Not via statuses(): looking for Hermes' package costs milliseconds per new session.
        return builtin_status()
    if name == "hermes":
        return hermes_status()
    return None
