"""The dispatcher: the database is the queue. Pending jobs start in creation order within the
global capacity, taking users in turn; running jobs past their deadline are stopped. On start it
reconciles: workers that outlived a server restart carry on, lost ones end their job."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
import traceback
import uuid

from ckrv.contracts.agents import available_agents
from ckrv.contracts.launch_env import WorkerEnvironment
from ckrv.server.executors.base import Launch, RunningJob
from ckrv.server.identity.tokens import TokenIssuer
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.launch_secrets import job_secrets
from ckrv.server.jobs.lifecycle import Engine
from ckrv.server.jobs.limits import settled_limits
from ckrv.server.jobs.network import settled_policy
from ckrv.server.vault.master_keys import MasterKeys
from ckrv.server.vault.store import mark_credential_used
from ckrv.settings import Settings
from ckrv.timeutil import parse_iso, utcnow

_DEADLINE_CHECK = 1.0  # seconds between looks for jobs past their timeout
_TOKEN_GRACE = 3600.0  # a worker may keep reporting this long past its timeout (buffered logs)


class Dispatcher:
    """Runs on `wakeup` (set through the engine's `wake`), and every second for deadlines."""

    def __init__(
        self,
        engine: Engine,
        wakeup: asyncio.Event,
        settings: Settings,
        master_keys: MasterKeys,
        issuer: TokenIssuer,
    ) -> None:
        self.engine = engine
        self.wakeup = wakeup
        self.settings = settings
        self.master_keys = master_keys
        self.issuer = issuer
        self._task: asyncio.Task[None] | None = None
        self._dispatches = 0
        self._last_served: dict[str, int] = {}  # user -> dispatch counter when last served

    async def start(self) -> None:
        await self.engine.executor.start(self.engine.worker_lost)
        await self.reconcile()
        self._task = asyncio.create_task(self._run(), name="ckrv-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.engine.executor.stop()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        deadlines_due = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=_DEADLINE_CHECK)
            self.wakeup.clear()
            try:
                await self.dispatch()
                # Deadlines on a clock, not on every wake-up: each new job wakes the dispatcher.
                if loop.time() >= deadlines_due:
                    deadlines_due = loop.time() + _DEADLINE_CHECK
                    await self.enforce_deadlines()
            except Exception:  # keep dispatching; one bad job must not stop the queue
                traceback.print_exc(file=sys.stderr)

    async def reconcile(self) -> None:
        rows = self.engine.db.read_with(lambda c: jobs.active(c, "id, status, executor_ref"))
        gone = await self.engine.executor.reconcile(
            [RunningJob(r["id"], r["executor_ref"]) for r in rows]
        )
        for row in rows:
            reason = gone.get(row["id"])
            if reason is None:
                continue
            if row["status"] == "pending":  # never reported running: safe to start again
                job_id: str = row["id"]
                await self.engine.db.write(lambda c: jobs.undispatch(c, job_id))  # noqa: B023
            else:
                await self.engine.worker_lost(row["id"], reason)
        self.wakeup.set()

    def _pick(self, active: dict[str, int], free: int) -> list[str]:
        """Up to `free` job ids, taking users in turn: the user with the fewest active jobs
        first, then the one served longest ago, then the one with the oldest job."""
        db = self.engine.db
        per_user: dict[str, list[tuple[int, str]]] = {}
        for user_id in db.read_with(jobs.waiting_users):
            per_user[user_id] = db.read_with(lambda c: jobs.oldest_queued(c, user_id, free))  # noqa: B023
        picks: list[str] = []
        while len(picks) < free and per_user:
            user = min(
                per_user,
                key=lambda u: (active.get(u, 0), self._last_served.get(u, -1), per_user[u][0][0]),
            )
            picks.append(per_user[user].pop(0)[1])
            active[user] = active.get(user, 0) + 1
            self._dispatches += 1
            self._last_served[user] = self._dispatches
            if not per_user[user]:
                del per_user[user]
        return picks

    async def dispatch(self) -> None:
        active = self.engine.db.read_with(jobs.active_per_user)
        free = self.settings.max_concurrent_jobs - sum(active.values())
        if free > 0:
            for job_id in self._pick(active, free):
                await self.launch(job_id)

    def _environment(self, row: sqlite3.Row, attempt: str) -> Launch:
        engine, settings = self.engine, self.settings
        job_id: str = row["id"]
        keys = self.master_keys
        secrets = engine.db.read_with(lambda c: job_secrets(c, keys, row))
        agent = available_agents(settings.agents).get(row["agent"])
        env = {
            name: os.environ[name] for name in (agent.env if agent else ()) if name in os.environ
        }
        token = self.issuer.worker_token(job_id, row["timeout_seconds"] + _TOKEN_GRACE, attempt)
        worker = WorkerEnvironment(
            settings.api_url, job_id, token, secrets.git_credential, secrets.agent_secrets
        )
        env.update(worker.encode())  # no pass-through variable can stand in for these
        network = settled_policy(row, settings, agent).mode if agent else settings.network
        limits = settled_limits(row, settings, agent) if agent else {}
        return Launch(job_id, env, row["timeout_seconds"], network, limits)

    async def launch(self, job_id: str) -> None:
        engine = self.engine
        attempt = uuid.uuid4().hex
        executor_name = engine.executor.name
        if not await engine.db.write(
            lambda c: jobs.mark_dispatched(c, job_id, attempt, executor_name)
        ):
            return
        row = engine.row(job_id)
        assert row is not None
        try:
            ref = await engine.executor.launch(self._environment(row, attempt))
        except Exception as exc:
            await engine.fail_with_line(job_id, "failed", f"could not start the worker: {exc}")
            return
        credential_id: str | None = row["credential_id"]

        def record(conn: sqlite3.Connection) -> None:
            jobs.set_executor_ref(conn, job_id, attempt, ref)
            if credential_id:
                mark_credential_used(conn, credential_id)

        await engine.db.write(record)

    async def enforce_deadlines(self) -> None:
        now = utcnow()
        for row in self.engine.db.read_with(jobs.active):
            began = parse_iso(row["started_at"]) or parse_iso(row["dispatched_at"])
            if began is not None and (now - began).total_seconds() > row["timeout_seconds"]:
                await self.engine.time_out(row)
