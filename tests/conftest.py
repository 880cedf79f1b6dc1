"""Shared fixtures: the fake provider, a real server process, databases on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hestia.store import migrate
from hestia.store.db import Database
from tests.fake_provider import FakeProvider
from tests.server import HestiaServer

# Browser fixtures (chromium, page, proxy) for tests/test_browser_*.py.
pytest_plugins = ["tests.browser"]

PG_ADMIN_URL = os.environ.get(
    "HESTIA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    """One fake OpenAI-compatible server for the whole run."""
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def fake(fake_provider: FakeProvider) -> Iterator[FakeProvider]:
    """The fake provider, reset for this test."""
    fake_provider.reset()
    yield fake_provider
    fake_provider.reset()


def server_env(fake: FakeProvider, **extra: str) -> dict[str, str]:
    """Environment for a server that talks to the fake provider."""
    env = {
        "HESTIA_OPENAI_BASE_URL": fake.base_url,
        "HESTIA_OPENAI_API_KEY": "test-key",
        "HESTIA_MODEL": "fake-model",
        "HESTIA_PROVIDER_TIMEOUT": "5",
        # Never the developer's own Hermes: a session switched to it fails at once instead.
        "HESTIA_HERMES_HOME": "/nonexistent/hestia-tests-hermes-home",
    }
    env.update(extra)
    return env


@pytest.fixture
def make_server(tmp_path: Path, fake: FakeProvider) -> Iterator[Callable[..., HestiaServer]]:
    """Start `hestia serve` processes (stopped at the end of the test)."""
    servers: list[HestiaServer] = []

    def make(**env: str) -> HestiaServer:
        data_dir = tmp_path / f"data{len(servers)}"
        server = HestiaServer(data_dir=data_dir, env=server_env(fake, **env))
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., HestiaServer]) -> HestiaServer:
    """A running server talking to the fake provider."""
    return make_server()


@pytest.fixture
def client(server: HestiaServer) -> Iterator[httpx.Client]:
    """An HTTP client for `server`."""
    with server.client() as http:
        yield http


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def postgres_available() -> bool:
    try:
        asyncio.run(_pg_admin("SELECT 1"))
        return True
    except Exception:
        return False


@pytest.fixture
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: SQLite in tmp_path, or a new PostgreSQL database."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    name = f"hestia_test_{uuid.uuid4().hex[:12]}"
    try:
        await _pg_admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        if os.environ.get("HESTIA_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated `Database` on `database_url`."""
    database = Database(database_url)
    await migrate.upgrade(database)
    yield database
    await database.dispose()


def both_backends(func: Callable[..., object]) -> Callable[..., object]:
    """Run a test against SQLite and PostgreSQL."""
    return pytest.mark.parametrize(
        "database_url",
        ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
        indirect=True,
    )(func)
