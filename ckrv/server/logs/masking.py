"""The server's second mask over the log lines a worker sends (SECURITY.md 20): a worker that did
not mask (an older version, a bug, a tampered image) still cannot put a job's git credential or
its owner's secrets into stored logs or live streams."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ckrv.contracts.masking import Masker
from ckrv.server.jobs.launch_secrets import job_secret_values
from ckrv.server.services import Services

_CACHE_KEY = "job_maskers"


class JobMaskers:
    """One Masker per job, built at its first log batch (the secrets are decrypted once, not
    per batch) and kept for the most recently active jobs."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._maskers: OrderedDict[str, Masker] = OrderedDict()

    def for_job(self, services: Services, job: Any) -> Masker:
        job_id = job["id"]
        masker = self._maskers.get(job_id)
        if masker is None:
            keys = services.master_keys
            values = services.db.read_with(lambda c: job_secret_values(c, keys, job))
            masker = self._maskers[job_id] = Masker(values)
            while len(self._maskers) > self.limit:
                self._maskers.popitem(last=False)
        self._maskers.move_to_end(job_id)
        return masker


def job_masker(services: Services, job: Any) -> Masker:
    """The Masker of every secret `job` can see (its git credential, its owner's secrets)."""
    maskers: JobMaskers = services.extras.get(_CACHE_KEY) or services.extras.setdefault(
        _CACHE_KEY, JobMaskers()
    )
    return maskers.for_job(services, job)
