"""Seed a big database through the store layer (batched inserts), and cache it between runs.

SQLite: the seeded file is kept under bench/results/cache/ and copied for each run.
PostgreSQL: the seeded database is kept as `hestia_bench_seed_*` and each run gets a fresh
copy made with `CREATE DATABASE ... TEMPLATE`; `--drop-cache` removes both.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hestia.ids import new_id
from hestia.store import messages as message_store
from hestia.store import migrate
from hestia.store import sessions as session_store
from hestia.store.db import Database

from .harness import ROOT, pg_admin, pg_fetch, pg_url

CACHE_DIR = ROOT / "bench" / "results" / "cache"
SEED_VERSION = 1
BATCH = 5000
RARE_WORD = "quartz"  # in about 1 message in 1,000
RARE_EVERY = 1000
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fe", "gu", "hi")


@dataclass(frozen=True)
class SeedPlan:
    sessions: int
    messages: int
    big_session_messages: int

    @property
    def key(self) -> str:
        return (
            f"s{self.sessions}_m{self.messages}_b{self.big_session_messages}"
            f"_v{SEED_VERSION}_r{schema_fingerprint()}"
        )


def schema_fingerprint() -> str:
    """A digest of every migration file: the head's name alone stays the same when migrations
    are re-chained or edited, and a cached seed with another schema would be reused."""
    digest = hashlib.sha256()
    for path in sorted((migrate.MIGRATIONS_DIR / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class TextMaker:
    """Deterministic, Zipf-ish message text; `common` is among the most frequent words."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.words = _vocabulary(self.rng)
        self.weights = [1 / (rank + 1) for rank in range(len(self.words))]
        self.common = self.words[0]
        self.count = 0

    def text(self) -> str:
        self.count += 1
        words = self.rng.choices(self.words, self.weights, k=self.rng.randint(6, 30))
        if self.count % RARE_EVERY == 0:
            words[self.rng.randrange(len(words))] = RARE_WORD
        return " ".join(words)


async def seed(db: Database, plan: SeedPlan) -> dict[str, object]:
    """Create the schema and the plan's sessions and messages; what it made."""
    began = time.perf_counter()
    await migrate.upgrade(db)
    maker = TextMaker()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    others = plan.sessions - 1
    rest = plan.messages - plan.big_session_messages
    per_session = [rest // others + (1 if i < rest % others else 0) for i in range(others)]
    counts = [plan.big_session_messages, *per_session]
    session_ids = [new_id() for _ in counts]
    session_rows = []
    for i, (session_id, count) in enumerate(zip(session_ids, counts, strict=True)):
        created = base + timedelta(minutes=i)
        session_rows.append(
            {
                "id": session_id,
                "title": f"Seeded session {i}",
                "title_source": "user",
                "model": None,
                "runtime": "builtin",
                "workspace": None,
                "approval_policy": None,
                "created_at": created,
                # The big session is the newest: it opens the list, like the one in use.
                "updated_at": created + timedelta(days=400 if i == 0 else 0, minutes=count),
                "pinned": False,
                "archived": False,
                "trashed_at": None,
                "message_count": count,
                "last_seq": count,
            }
        )
    for start in range(0, len(session_rows), BATCH):
        async with db.write() as conn:
            await session_store.insert_many(conn, rows=session_rows[start : start + BATCH])
    batch: list[dict[str, object]] = []
    for session_id, count, row in zip(session_ids, counts, session_rows, strict=True):
        for seq in range(1, count + 1):
            batch.append(
                {
                    "id": new_id(),
                    "session_id": session_id,
                    "seq": seq,
                    "role": "user" if seq % 2 else "assistant",
                    "content": maker.text(),
                    "parts": None,
                    "status": "complete",
                    "run_id": None,
                    "superseded": False,
                    "created_at": row["created_at"] + timedelta(seconds=seq),
                }
            )
            if len(batch) >= BATCH:
                async with db.write() as conn:
                    await message_store.insert_many(conn, rows=batch)
                batch = []
    if batch:
        async with db.write() as conn:
            await message_store.insert_many(conn, rows=batch)
    return {
        "seconds": round(time.perf_counter() - began, 1),
        "big_session_id": session_ids[0],
        "common_word": maker.common,
    }


async def _seed_info(db: Database) -> dict[str, object]:
    """Read back what a cached seed holds (the big session is the newest one)."""
    from sqlalchemy import text

    async with db.read() as conn:
        big = (await conn.execute(text("SELECT id FROM sessions ORDER BY updated_at DESC"))).first()
    return {
        "seconds": 0.0,
        "cached": True,
        "big_session_id": big[0],
        "common_word": TextMaker().common,
    }


async def sqlite_seed(plan: SeedPlan, data_dir: Path, *, log: callable) -> dict[str, object]:
    """Put a seeded `hestia.db` in `data_dir` (seeding the cache first if needed)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cached = CACHE_DIR / f"seed_{plan.key}.db"
    if not cached.exists():
        log(f"seeding SQLite {plan.messages:,} messages (cached for later runs)")
        partial = cached.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        db = Database(f"sqlite+aiosqlite:///{partial}")
        try:
            info = await seed(db, plan)
        finally:
            await db.dispose()
        partial.rename(cached)
    else:
        info = None
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, data_dir / "hestia.db")
    if info is None:
        db = Database(f"sqlite+aiosqlite:///{cached}")
        try:
            info = await _seed_info(db)
        finally:
            await db.dispose()
    return info


async def postgres_seed_template(plan: SeedPlan, *, log: callable) -> tuple[str, dict[str, object]]:
    """The name of a complete seeded database to copy (seeding it first if needed)."""
    name = f"hestia_bench_seed_{plan.key}".lower()[:63]
    rows = await pg_fetch(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", name
    )
    info: dict[str, object] | None = None
    if not rows or rows[0][0] != "complete":
        log(f"seeding PostgreSQL {plan.messages:,} messages (cached for later runs)")
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await pg_admin(f'CREATE DATABASE "{name}"')
        db = Database(pg_url(name))
        try:
            info = await seed(db, plan)
            async with db.write() as conn:
                from sqlalchemy import text

                await conn.execute(text("ANALYZE"))
        finally:
            await db.dispose()
        await pg_admin(f"COMMENT ON DATABASE \"{name}\" IS 'complete'")
    if info is None:
        db = Database(pg_url(name))
        try:
            info = await _seed_info(db)
        finally:
            await db.dispose()
    return name, info


async def drop_cache() -> None:
    """Forget every cached seed (SQLite files and PostgreSQL databases)."""
    shutil.rmtree(CACHE_DIR, ignore_errors=True)
    for (name,) in await pg_fetch(
        "SELECT datname FROM pg_database WHERE datname LIKE 'hestia_bench_seed_%'"
    ):
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
