"""The server's second mask over everything a worker writes (docs/security.md items 20 and 35):
a worker that did not mask (an older version, a bug, a tampered image) still cannot put a job's
git credential or its owner's secrets into stored logs, live streams, the job's fields (error,
summary, branches, commits) or the worker's last output.

Masking never runs on the event loop: building a masker (decrypting the secrets, building the
automaton) and masking a batch run on a small pool of threads of their own, so one user's
masking-heavy output cannot hold up anybody else's requests. One masker serves every job of a
user with the same git credential; it is rebuilt when the user's secrets or that credential
change, which the sealed values' nonces (fresh at every write) tell at the cost of one
indexed read."""

from __future__ import annotations

import asyncio
import sys
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ckrv.contracts.masking import Masker
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.launch_secrets import job_secret_values
from ckrv.server.logs.matcher import server_matcher
from ckrv.server.storage.database import Database
from ckrv.server.vault.master_keys import MasterKeys
from ckrv.server.vault.store import secrets_fingerprint

T = TypeVar("T")
Key = tuple[str, str]  # (user id, credential id or "")
SWITCH_INTERVAL = 0.0005  # seconds a masking thread may hold the GIL while the loop waits


class JobMaskers:
    """Maskers by (user, credential), the most recently used `limit` of them kept."""

    def __init__(
        self, db: Database, master_keys: MasterKeys, limit: int = 256, threads: int = 2
    ) -> None:
        self.db = db
        self.master_keys = master_keys
        self.limit = limit
        self._maskers: OrderedDict[Key, tuple[tuple[bytes, ...], Masker]] = OrderedDict()
        self._building: dict[Key, asyncio.Future[Masker]] = {}
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ckrv-mask")
        # A thread busy masking keeps the GIL until the interpreter asks it to switch; the
        # loop, waking for every request, would wait that long each time (5 ms by default).
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def for_job(self, job: Any) -> Masker:
        """The masker of every secret `job` can see (its git credential, its owner's secrets)."""
        key: Key = (job["user_id"], job["credential_id"] or "")
        fingerprint = self.db.read_with(lambda c: secrets_fingerprint(c, *key))
        cached = self._maskers.get(key)
        if cached is not None and cached[0] == fingerprint:
            self._maskers.move_to_end(key)
            return cached[1]
        building = self._building.get(key)
        if building is None:  # one build per key at a time; the others wait for it
            building = asyncio.ensure_future(self._build(key, job, fingerprint))
            self._building[key] = building
            building.add_done_callback(lambda _: self._building.pop(key, None))
        return await asyncio.shield(building)

    async def _build(self, key: Key, job: Any, fingerprint: tuple[bytes, ...]) -> Masker:
        keys = self.master_keys
        values = await self.db.read_async(lambda c: job_secret_values(c, keys, job))
        masker = await self.run(lambda: Masker(values, server_matcher))
        self._maskers[key] = (fingerprint, masker)
        while len(self._maskers) > self.limit:
            self._maskers.popitem(last=False)
        return masker

    async def run(self, fn: Callable[[], T]) -> T:
        """`fn` on a masking thread (masking is CPU work: never on the loop)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def masking(self, job: Any) -> Callable[[str], str]:
        """The function masking text for `job` (`str` when it has no secrets)."""
        masker = await self.for_job(job)
        return masker.mask if masker else str

    async def mask(self, job: Any, texts: list[str]) -> list[str]:
        """`texts` masked for `job`, off the loop."""
        mask = await self.masking(job)
        if mask is str:
            return texts
        return await self.run(lambda: [mask(text) for text in texts])

    async def mask_for_job_id(self, job_id: str, texts: list[str]) -> list[str]:
        """`texts` masked for the job `job_id` (unchanged when there is no such job)."""
        row = self.db.read_with(lambda c: jobs.find(c, job_id, "user_id, credential_id"))
        return texts if row is None else await self.mask(row, texts)

    async def mask_text_for_job_id(self, job_id: str, text: str) -> str:
        return (await self.mask_for_job_id(job_id, [text]))[0]
