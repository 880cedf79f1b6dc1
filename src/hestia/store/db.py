"""The database handle: an async engine plus the rule that SQLite has one writer at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # Survives kill -9 of the process; an OS crash may lose the last commits (see ARCHITECTURE.md).
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)


class Database:
    """An async SQLAlchemy engine with `read()` and `write()` transactions.

    On SQLite every write transaction is `BEGIN IMMEDIATE` behind one asyncio lock, so writers
    queue instead of failing with "database is locked"; reads run concurrently (WAL).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self._write_lock = asyncio.Lock()
        if self.is_sqlite:
            _install_sqlite_hooks(self.engine)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; whatever it started is rolled back on exit."""
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self, *, durable: bool = True) -> AsyncIterator[AsyncConnection]:
        """One write transaction, committed on success and rolled back on any exception.

        `durable=False` (a stream's periodic flush) lets PostgreSQL acknowledge the commit
        before its WAL reaches the disk, as SQLite's `synchronous=NORMAL` does for every
        commit: it survives a kill -9 of Hestia, and an OS crash may lose the last moments.
        """
        if not self.is_sqlite:
            async with self.engine.begin() as conn:
                if not durable:
                    await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
                yield conn
            return
        async with self._write_lock, self.engine.connect() as conn:
            conn = await conn.execution_options(hestia_write=True)
            async with conn.begin():
                yield conn

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module so BEGIN IMMEDIATE is ours to say.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("hestia_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
