"""`hestia doctor`: one line per check, so a person sees at once what is wrong."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable

import httpx

from .config import Settings
from .core import runtimes
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
        *await _check_hermes(settings),
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


async def _check_hermes(settings: Settings) -> list[tuple[bool, str]]:
    """The Hermes runtime: installed, its version, HERMES_HOME, and whether its provider answers."""
    status = runtimes.hermes_status()
    needed = settings.runtime == "hermes"
    if not status.available:
        return [(not needed, f"hermes runtime: {status.reason}")]
    home = settings.effective_hermes_home
    results = [(True, f"hermes runtime: hermes-agent {status.version}, HERMES_HOME {home}")]
    if not (home / "config.yaml").is_file():
        return [*results, (not needed, f"hermes: {home / 'config.yaml'} does not exist")]
    if settings.hermes_provider == "hestia":
        results.append((True, "hermes: runs use Hestia's provider (HESTIA_HERMES_PROVIDER=hestia)"))
        return results
    try:
        info = await _probe_hermes(settings)
    except (OSError, ValueError, TimeoutError) as exc:
        return [*results, (False, f"hermes: could not read its configuration ({exc})")]
    if info.get("error"):
        return [*results, (False, f"hermes: its provider cannot be resolved: {info['error']}")]
    where = f"hermes provider {info.get('provider')} at {info.get('base_url')}"
    try:
        async with httpx.AsyncClient(timeout=settings.provider_timeout) as client:
            key = info.get("api_key")
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            response = await client.get(
                f"{str(info.get('base_url')).rstrip('/')}/models", headers=headers
            )
    except httpx.HTTPError as exc:
        return [*results, (False, f"{where}: cannot be reached ({type(exc).__name__})")]
    if response.status_code >= 400:
        return [*results, (False, f"{where}: answers HTTP {response.status_code}")]
    return [*results, (True, f"{where} answers (model {info.get('model') or 'not set'})")]


async def _probe_hermes(settings: Settings) -> dict[str, object]:
    """Ask a worker process what Hermes resolves (Hermes is never imported here)."""
    env = {**os.environ, "HERMES_HOME": str(settings.effective_hermes_home)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hestia.runtimes.hermes_worker",
        "--probe",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise TimeoutError("hermes did not answer within 120 s") from None
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("{"):
            return json.loads(line)
    tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
    raise ValueError(tail[0])
