"""The server's second mask over the log lines a worker sends (docs/security.md item 20): a worker that did
not mask (an older version, a bug, a tampered image) still cannot put a job's git credential or
its owner's secrets into stored logs or live streams."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ckrv.contracts.masking import Masker
from ckrv.server.jobs.launch_secrets import job_secret_values
from ckrv.server.storage.database import Database
from ckrv.server.vault.master_keys import MasterKeys


class JobMaskers:
    """One Masker per job, of every secret the job can see (its git credential, its owner's
    secrets), built at its first log batch (the secrets are decrypted once, not per batch) and
    kept for the most recently active jobs."""

    def __init__(self, db: Database, master_keys: MasterKeys, limit: int = 256) -> None:
        self.db = db
        self.master_keys = master_keys
        self.limit = limit
        self._maskers: OrderedDict[str, Masker] = OrderedDict()

    def for_job(self, job: Any) -> Masker:
        job_id = job["id"]
        masker = self._maskers.get(job_id)
        if masker is None:
            keys = self.master_keys
            values = self.db.read_with(lambda c: job_secret_values(c, keys, job))
            masker = self._maskers[job_id] = Masker(values)
            while len(self._maskers) > self.limit:
                self._maskers.popitem(last=False)
        self._maskers.move_to_end(job_id)
        return masker
