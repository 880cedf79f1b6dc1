"""Runs: sending, queueing (I5), idempotency (I8), edit and retry (I7), cancel, leases, sweeps.

A run is created `queued` with its input in one transaction (the 2xx means it is durable, I1)
and promoted to `running` by a compare-and-set guarded by a unique index that allows one
running run per session (I5, I6). Promotion appends the user message, an empty `streaming`
assistant message and `run.started`, then a `RunExecution` streams into it. A send to an idle
session is created and promoted in one transaction: one commit before the model is asked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from ..config import Settings
from ..errors import BadRequest, Conflict, NotFound, TooLarge
from ..ids import new_id, utcnow
from ..providers.base import Provider
from ..providers.registry import ProviderRegistry
from ..store import approvals as approval_store
from ..store import events as event_store
from ..store import messages as message_store
from ..store import runs as run_store
from ..store import sessions as session_store
from ..store.db import Database
from . import streamed
from .agent import Agent
from .engine import RunContext, RunExecution
from .events import Event, EventBus
from .history import build_history
from .owner import Owner
from .settings import RunDefaults, SettingsService
from .titles import title_from_message
from .views import message_view
from .workspace import session_workspace

log = logging.getLogger(__name__)

SweepHook = Callable[[RowMapping], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Created:
    """A run just stored: its row, and its start if the session was idle."""

    run: RowMapping
    started: RunContext | None
    defaults: RunDefaults


class RunManager:
    """Creates, starts, cancels and sweeps runs; owns the executions of this process."""

    def __init__(
        self,
        *,
        db: Database,
        bus: EventBus,
        settings: Settings,
        providers: ProviderRegistry,
        agent: Agent | None = None,
        preferences: SettingsService | None = None,
        owner: Owner | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.providers = providers
        self.agent = agent
        self.preferences = preferences or SettingsService(db=db, settings=settings)
        self.owner = owner or Owner.current()
        self._executions: dict[str, RunExecution] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._background: list[asyncio.Task[None]] = []
        self._closing = False
        # Tests pause the sweep here, between choosing a stale run and interrupting it.
        self.before_interrupt: SweepHook | None = None

    # -- creating runs -------------------------------------------------------------------

    async def submit(
        self,
        session_id: str,
        *,
        content: str,
        client_message_id: str | None = None,
        model: str | None = None,
    ) -> RowMapping:
        """Send a message: a run that starts now or queues behind the active one."""
        self._check_content(content)
        try:
            created = await self._create(
                session_id,
                kind="send",
                run_input={"content": content},
                model=model,
                client_message_id=client_message_id,
            )
        except IntegrityError:
            # Two sends with one client_message_id raced; the other one won (I8).
            created = None
        if created is None:
            async with self.db.read() as conn:
                existing = await run_store.by_client_message_id(
                    conn, session_id=session_id, client_message_id=client_message_id or ""
                )
            if existing is None:
                raise Conflict("The message could not be sent; try again.", code="send_conflict")
            return existing
        return await self._after_create(session_id, created)

    async def edit(self, session_id: str, *, seq: int, content: str) -> RowMapping:
        """Supersede user message `seq` and everything after it, and answer the new content."""
        self._check_content(content)
        created = await self._create(
            session_id, kind="edit", run_input={"content": content, "seq": seq}, model=None
        )
        assert created is not None
        return await self._after_create(session_id, created)

    async def retry(self, session_id: str) -> RowMapping:
        """Supersede the answer to the last user message and answer it again."""
        created = await self._create(session_id, kind="retry", run_input={}, model=None)
        assert created is not None
        return await self._after_create(session_id, created)

    async def _after_create(self, session_id: str, created: _Created) -> RowMapping:
        """Launch a run that was started with its creation; else try to start the next one."""
        if created.started is not None:
            await self._launch(created.started, created.defaults)
            return created.run
        await self.start_next(session_id)
        return await self.get(created.run["id"])

    def _check_content(self, content: str) -> None:
        if not content.strip():
            raise BadRequest("The message is empty.", code="empty_message")
        size = len(content.encode())
        if size > self.settings.max_message_bytes:
            raise TooLarge(
                f"The message is {size:,} bytes; the limit is "
                f"{self.settings.max_message_bytes:,} (HESTIA_MAX_MESSAGE_BYTES).",
                code="message_too_large",
            )

    async def _create(
        self,
        session_id: str,
        *,
        kind: str,
        run_input: dict[str, Any],
        model: str | None,
        client_message_id: str | None = None,
        start: bool = True,
    ) -> _Created | None:
        """Store a queued run (None if `client_message_id` was sent before). When the session is
        idle (and `start`) the same transaction starts it: one commit before the 202 (I1)."""
        now = utcnow()
        async with self.db.write() as conn:
            defaults = await self.preferences.run_defaults(conn)
            session = await session_store.get(conn, session_id=session_id, for_update=True)
            if session is None:
                raise NotFound(f"There is no session {session_id}.", code="session_not_found")
            if session["trashed_at"] is not None:
                raise Conflict(
                    "The session is in the trash; restore it first.", code="session_trashed"
                )
            if client_message_id is not None:
                existing = await run_store.by_client_message_id(
                    conn, session_id=session_id, client_message_id=client_message_id
                )
                if existing is not None:
                    return None
            session_values: dict[str, Any] = {"updated_at": now}
            idle = not await run_store.has_active(conn, session_id=session_id)
            if kind != "send":
                if not idle:
                    raise Conflict(
                        "The session has a run in progress; wait for it or stop it first.",
                        code="run_active",
                    )
                run_input = await self._prepare_rewrite(conn, session_id, kind, run_input)
            if session["title_source"] == "default" or (
                kind == "edit" and session["title_source"] == "auto" and run_input["first"]
            ):
                session_values["title"] = title_from_message(run_input["content"])
                session_values["title_source"] = "auto"
            run_input["model"] = model or session["model"] or defaults.settings.model
            run_values = {
                "id": new_id(),
                "session_id": session_id,
                "status": "queued",
                "kind": kind,
                "input": run_input,
                "client_message_id": client_message_id,
                "created_at": now,
            }
            started = None
            if start and idle and not self._closing:
                started = await self._promote_in(
                    conn,
                    session=session,
                    run=run_values,
                    policy=defaults.approval_policy,
                    fresh=True,
                    session_values=session_values,
                )
            else:
                await run_store.insert(conn, values=run_values)
                await session_store.update(conn, session_id=session_id, values=session_values)
            run = await run_store.get(conn, run_id=run_values["id"])
        assert run is not None
        return _Created(run=run, started=started, defaults=defaults)

    async def _prepare_rewrite(
        self, conn: Any, session_id: str, kind: str, run_input: dict[str, Any]
    ) -> dict[str, Any]:
        """Check an edit or retry against the transcript; returns the run's input."""
        if kind == "edit":
            target = await message_store.get_by_seq(
                conn, session_id=session_id, seq=run_input["seq"]
            )
            if target is None or target["superseded"]:
                raise NotFound(
                    f"There is no current message {run_input['seq']} in this session.",
                    code="message_not_found",
                )
            if target["role"] != "user":
                raise BadRequest("Only your own messages can be edited.", code="not_user_message")
            first_user = await message_store.first_live(conn, session_id=session_id, role="user")
            first = first_user is not None and first_user["seq"] == target["seq"]
            return {**run_input, "first": first}
        last_user = await message_store.last_live(conn, session_id=session_id, role="user")
        if last_user is None:
            raise Conflict("There is no message to answer again.", code="nothing_to_retry")
        return {"content": last_user["content"], "seq": last_user["seq"]}

    # -- starting runs -------------------------------------------------------------------

    async def start_next(self, session_id: str) -> str | None:
        """Start the session's oldest queued run if none is running; returns its id."""
        if self._closing:
            return None
        try:
            promoted = await self._promote(session_id)
        except IntegrityError:
            return None  # another process started a run in this session first (I5)
        if promoted is None:
            return None
        started, defaults = promoted
        await self._launch(started, defaults)
        return started.run_id

    async def _launch(self, started: RunContext, defaults: RunDefaults) -> None:
        """Begin executing a run this process has just promoted."""
        try:
            # Provider settings saved since the last run, here or in another process.
            await self.preferences.sync_providers(defaults.settings)
        except Exception:
            log.exception("the saved provider settings could not be applied; using the last ones")
        provider = self.providers.acquire(started.model)
        execution_class: Any = RunExecution
        extra: dict[str, Any] = {}
        if started.runtime == "hermes":
            from .hermes import HermesExecution  # the runtime's worker does the agent loop

            execution_class, extra = HermesExecution, {"settings": self.settings}
        execution = execution_class(
            ctx=started,
            db=self.db,
            bus=self.bus,
            provider=provider,
            agent=self.agent,
            flush_interval=self.settings.flush_interval,
            lease_seconds=self.settings.lease_seconds,
            **extra,
        )
        self._executions[started.run_id] = execution
        self._tasks[started.run_id] = asyncio.create_task(
            self._execute(execution, provider), name=f"run-{started.run_id}"
        )

    async def _execute(self, execution: RunExecution, provider: Provider) -> None:
        run_id = execution.ctx.run_id
        try:
            await execution.run()
        finally:
            self._executions.pop(run_id, None)
            self._tasks.pop(run_id, None)
            await self.providers.release(provider)
        if not self._closing:
            await self.start_next(execution.ctx.session_id)

    async def _promote(self, session_id: str) -> tuple[RunContext, RunDefaults] | None:
        async with self.db.write() as conn:
            session = await session_store.get(conn, session_id=session_id, for_update=True)
            if session is None or session["trashed_at"] is not None:
                return None  # a trashed session's queued runs wait for its restore
            run = await run_store.oldest_queued(conn, session_id=session_id)
            if run is None or await run_store.has_running(conn, session_id=session_id):
                return None
            defaults = await self.preferences.run_defaults(conn)
            started = await self._promote_in(
                conn, session=session, run=run, policy=defaults.approval_policy
            )
        return None if started is None else (started, defaults)

    async def _promote_in(
        self,
        conn: Any,
        *,
        session: RowMapping,
        run: Mapping[str, Any],
        policy: str,
        fresh: bool = False,
        session_values: dict[str, Any] | None = None,
    ) -> RunContext | None:
        """Make the queued `run` running inside `conn`'s transaction, which holds the session:
        the turn's messages, and `run.started` as event 1, so the stream can begin at once.

        `fresh`: the run is not stored yet (a send to an idle session) and is inserted running;
        `session_values` go into the same update of the session.
        """
        now = utcnow()
        session_id = session["id"]
        run_input = run["input"]
        user_message_id = new_id()
        if run["kind"] == "retry":
            user = await message_store.get_by_seq(conn, session_id=session_id, seq=run_input["seq"])
            if user is not None:
                user_message_id = user["id"]
        assistant_message_id = new_id()
        promotion = {
            "status": "running",
            "owner": str(self.owner),
            "lease_expires_at": now + timedelta(seconds=self.settings.lease_seconds),
            "started_at": now,
            "user_message_id": user_message_id,
            "assistant_message_id": assistant_message_id,
        }
        if fresh:
            # Inserted running: this transaction holds the session and found it idle (I5).
            await run_store.insert(conn, values={**run, **promotion})
        elif not await run_store.transition(
            conn, run_id=run["id"], from_status="queued", values=promotion
        ):
            return None  # the CAS comes first: it fails before anything else is written (I6)
        assistant_seq, rows = await self._append_turn(
            conn,
            run=run,
            user_message_id=user_message_id,
            now=now,
            session_values=session_values,
        )
        rows.append(
            {
                "id": assistant_message_id,
                "session_id": session_id,
                "seq": assistant_seq,
                "role": "assistant",
                "content": "",
                "status": "streaming",
                "run_id": run["id"],
                "created_at": now,
            }
        )
        await message_store.insert_many(conn, rows=rows)
        started = Event.make(1, "run.started", {"run_id": run["id"], "model": run_input["model"]})
        await event_store.append(
            conn, run_id=run["id"], events=[(started.id, started.type, started.data)], now=now
        )
        history = await message_store.history(conn, session_id=session_id, before_seq=assistant_seq)
        return RunContext(
            run_id=run["id"],
            session_id=session_id,
            owner=str(self.owner),
            model=run_input["model"],
            assistant_message_id=assistant_message_id,
            history=build_history(history),
            workspace=session_workspace(self.settings.data_dir, session_id, session["workspace"]),
            approval_policy=session["approval_policy"] or policy,
            tools_enabled=self.agent is not None,
            runtime=session["runtime"],
            explicit_model=None
            if session["model"] is None and run_input["model"] == self.settings.model
            else run_input["model"],
            started=started,
        )

    async def _append_turn(
        self,
        conn: Any,
        *,
        run: Mapping[str, Any],
        user_message_id: str,
        now: datetime,
        session_values: dict[str, Any] | None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Supersede what an edit or retry replaces and reserve the turn's seqs: the answer's
        seq, and the user message's row to insert (none for a retry, which keeps its own)."""
        session_id = run["session_id"]
        kind = run["kind"]
        if kind in ("edit", "retry"):
            from_seq = run["input"]["seq"] + (1 if kind == "retry" else 0)
            hidden = await message_store.supersede_from(conn, session_id=session_id, seq=from_seq)
            if hidden:
                await session_store.add_to_count(conn, session_id=session_id, delta=-hidden)
        count = 1 if kind == "retry" else 2
        seq = await session_store.allocate_seqs(
            conn, session_id=session_id, count=count, now=now, values=session_values
        )
        if kind == "retry":
            return seq, []
        user = {
            "id": user_message_id,
            "session_id": session_id,
            "seq": seq,
            "role": "user",
            "content": run["input"]["content"],
            "status": "complete",
            "run_id": run["id"],
            "created_at": run["created_at"],
        }
        return seq + 1, [user]

    # -- reading and cancelling -----------------------------------------------------------

    async def get(self, run_id: str) -> RowMapping:
        """One run, or NotFound."""
        async with self.db.read() as conn:
            run = await run_store.get(conn, run_id=run_id)
        if run is None:
            raise NotFound(f"There is no run {run_id}.", code="run_not_found")
        return run

    async def check_exists(self, run_id: str) -> RowMapping | None:
        """NotFound unless the run exists: its row, or None for a run this process streams
        (which needs no read)."""
        if self.bus.is_local(run_id):
            return None
        return await self.get(run_id)

    async def for_session(self, session_id: str, *, active_only: bool) -> list[RowMapping]:
        """A session's runs, oldest first."""
        async with self.db.read() as conn:
            if await session_store.get(conn, session_id=session_id) is None:
                raise NotFound(f"There is no session {session_id}.", code="session_not_found")
            return await run_store.for_session(conn, session_id=session_id, active_only=active_only)

    async def cancel(self, run_id: str) -> RowMapping:
        """Stop a run: a queued one is cancelled at once, a running one at its next step."""
        run = await self.get(run_id)
        if run["status"] == "queued":
            event = Event.make(1, "run.cancelled", {"run_id": run_id})
            now = utcnow()
            async with self.db.write() as conn:
                done = await run_store.transition(
                    conn,
                    run_id=run_id,
                    from_status="queued",
                    values={"status": "cancelled", "finished_at": now, "last_event_id": 1},
                )
                if done:
                    await event_store.append(
                        conn, run_id=run_id, events=[(1, event.type, event.data)], now=now
                    )
            if done:
                return await self.get(run_id)
            run = await self.get(run_id)
        if run["status"] == "running":
            async with self.db.write() as conn:
                await run_store.transition(
                    conn, run_id=run_id, from_status="running", values={"cancel_requested": True}
                )
            execution = self._executions.get(run_id)
            if execution is not None:
                execution.request_stop("cancelled")
            run = await self.get(run_id)
        return run

    async def cancel_session(self, session_id: str) -> None:
        """Cancel every queued and running run of a session (before it goes to the trash)."""
        active = await self.for_session(session_id, active_only=True)
        # Queued ones first: the running one's end would otherwise start the next.
        for run in sorted(active, key=lambda r: r["status"] != "queued"):
            await self.cancel(run["id"])

    async def wait_idle(self, run_id: str) -> None:
        """Wait until this process no longer executes the run."""
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    # -- leases, sweeps, start-up and shutdown ----------------------------------------------

    async def sweep(self) -> int:
        """Interrupt running runs whose owner is gone or whose lease ran out; start queued ones."""
        now = utcnow()
        async with self.db.read() as conn:
            candidates = await run_store.running(conn)
        interrupted = 0
        for run in candidates:
            if run["owner"] == str(self.owner):
                continue
            expired = run["lease_expires_at"] is None or run["lease_expires_at"] < now
            if not (expired or self.owner.sees_dead(run["owner"])):
                continue
            if self.before_interrupt is not None:
                await self.before_interrupt(run)
            if await self._interrupt_stale(run):
                interrupted += 1
        async with self.db.read() as conn:
            waiting = await run_store.sessions_with_queued(conn)
        for session_id in waiting:
            await self.start_next(session_id)
        return interrupted

    async def _interrupt_stale(self, run: RowMapping) -> bool:
        now = utcnow()
        async with self.db.write() as conn:
            # Exactly this run, only while still running under the stale owner (I6).
            done = await run_store.transition(
                conn,
                run_id=run["id"],
                from_status="running",
                owner=run["owner"],
                values={"status": "interrupted", "finished_at": now},
            )
            if not done:
                return False
            await approval_store.expire_for_run(conn, run_id=run["id"], now=now)
            next_id = await event_store.last_id(conn, run_id=run["id"]) + 1
            events: list[Event] = []
            # The message streaming when the owner died (the step's, in a tool run) keeps the
            # text its stored deltas hold: a prefix of what was streamed (I2).
            streaming = await message_store.streaming_of_run(
                conn, session_id=run["session_id"], run_id=run["id"]
            )
            if streaming is not None:
                content = await streamed.content_of(conn, run_id=run["id"], seq=streaming["seq"])
                await message_store.finish(
                    conn, message_id=streaming["id"], content=content, status="interrupted"
                )
                message = {**message_view(streaming), "content": content, "status": "interrupted"}
                events.append(Event.make(next_id, "message.completed", {"message": message}))
                next_id += 1
            events.append(
                Event.make(
                    next_id,
                    "run.interrupted",
                    {
                        "run_id": run["id"],
                        "reason": "The server stopped while this run was active.",
                    },
                )
            )
            await event_store.append(
                conn, run_id=run["id"], events=[(e.id, e.type, e.data) for e in events], now=now
            )
            await run_store.transition(
                conn,
                run_id=run["id"],
                from_status="interrupted",
                values={"last_event_id": events[-1].id},
            )
            await session_store.update(
                conn, session_id=run["session_id"], values={"updated_at": now}
            )
        log.info("run %s: interrupted (owner %s is gone)", run["id"], run["owner"])
        return True

    async def startup(self) -> None:
        """Interrupt what a dead process left running, start queued runs, begin lease upkeep."""
        await self.sweep()
        self._background.append(asyncio.create_task(self._upkeep(), name="run-upkeep"))

    async def _upkeep(self) -> None:
        interval = max(self.settings.lease_seconds / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                until = utcnow() + timedelta(seconds=self.settings.lease_seconds)
                async with self.db.write() as conn:
                    cancel_ids = await run_store.renew_leases(
                        conn, owner=str(self.owner), until=until
                    )
                for run_id in cancel_ids:
                    execution = self._executions.get(run_id)
                    if execution is not None:
                        execution.request_stop("cancelled")
                await self.sweep()
            except Exception:
                log.exception("lease upkeep failed; retrying")

    async def shutdown(self, *, grace: float = 5.0) -> None:
        """Stop upkeep and end this process's runs as `interrupted`, keeping their text."""
        self._closing = True
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        for execution in list(self._executions.values()):
            execution.request_stop("interrupted")
        tasks = list(self._tasks.values())
        if tasks:
            _, still = await asyncio.wait(tasks, timeout=grace)
            for task in still:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
