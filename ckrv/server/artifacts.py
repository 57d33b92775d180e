"""The filesystem artifact store: data_dir/artifacts/<job id>/<name>. Writes go to a temp file
that is fsynced and renamed, so a reader never sees half an artifact."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from ckrv.errors import CkrvError


class ArtifactTooLarge(CkrvError):
    pass


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def job_dir(self, job_id: str) -> Path:
        uuid.UUID(job_id)  # job ids are UUIDs; anything else must not become a path
        return self.root / job_id

    def path(self, job_id: str, name: str) -> Path:
        return self.job_dir(job_id) / name

    async def write_stream(
        self, job_id: str, name: str, chunks: AsyncIterator[bytes], limit: int
    ) -> int:
        directory = self.job_dir(job_id)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = directory / f".{name}.{uuid.uuid4().hex}.tmp"
        size = 0
        try:
            with open(tmp, "wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise ArtifactTooLarge(
                            f"{name} is larger than the server's limit of {limit} bytes"
                        )
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, directory / name)
        finally:
            tmp.unlink(missing_ok=True)
        return size

    def delete(self, job_id: str, name: str) -> None:
        self.path(job_id, name).unlink(missing_ok=True)

    def delete_job(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
