"""`hestia doctor`: one line per check, so a person sees at once what is wrong."""

from __future__ import annotations

import os
from collections.abc import Callable

from .config import Settings
from .providers.registry import ProviderRegistry
from .store import migrate
from .store.db import Database

Echo = Callable[[str], object]


async def run_checks(settings: Settings, echo: Echo) -> bool:
    """Run every check, print a line for each, return whether all passed."""
    results = [
        _check_data_dir(settings),
        await _check_database(settings),
        *await _check_providers(settings),
    ]
    for ok, line in results:
        echo(f"{'ok  ' if ok else 'FAIL'} {line}")
    return all(ok for ok, _ in results)


def _check_data_dir(settings: Settings) -> tuple[bool, str]:
    path = settings.data_dir
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK):
            return True, f"data dir {path} does not exist yet; `hestia serve` will create it"
        return False, f"data dir {path} does not exist and cannot be created"
    if not path.is_dir():
        return False, f"data dir {path} is not a folder"
    if not os.access(path, os.W_OK):
        return False, f"data dir {path} is not writable"
    return True, f"data dir {path} is writable"


async def _check_database(settings: Settings) -> tuple[bool, str]:
    db = Database(settings.effective_database_url)
    where = db.url.render_as_string(hide_password=True)
    try:
        current = await migrate.current_revision(db)
    except Exception as exc:
        return False, f"database {where}: cannot connect ({type(exc).__name__}: {exc})"
    finally:
        await db.dispose()
    head = migrate.head_revision()
    if current == head:
        return True, f"database {where}: schema is current ({head})"
    if current is None:
        return True, f"database {where}: empty; `hestia serve` will create the schema"
    return True, f"database {where}: at {current}, `hestia serve` will migrate it to {head}"


async def _check_providers(settings: Settings) -> list[tuple[bool, str]]:
    registry = ProviderRegistry.from_settings(settings)
    try:
        statuses = await registry.statuses()
    finally:
        await registry.aclose()
    results = []
    for status in statuses:
        where = f"provider {status.name} at {status.base_url}"
        if status.error is not None:
            results.append((False, f"{where}: {status.error['message']}"))
            continue
        models = ", ".join(m.id for m in status.models[:5]) or "none listed"
        more = f" (+{len(status.models) - 5} more)" if len(status.models) > 5 else ""
        results.append((True, f"{where} answers: {models}{more}"))
    if not any(m.id == settings.model for s in statuses for m in s.models) and all(
        s.error is None for s in statuses
    ):
        results.append((True, f"note: the default model {settings.model!r} is not listed"))
    return results or [(False, "no model provider is configured")]
