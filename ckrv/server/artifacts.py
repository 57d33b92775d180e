"""The filesystem artifact store: data_dir/artifacts/<job id>/<name> (diffs, archived logs).
Writes go through `atomic_file`, so a reader never sees half an artifact and a crash right
after a write keeps it."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

from ckrv.errors import CkrvError


class ArtifactTooLarge(CkrvError):
    pass


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """A file that appears at `path` whole or not at all: written beside it under a temporary
    name, fsynced, renamed over `path`, and its directory fsynced so the rename lasts too."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        tmp.unlink(missing_ok=True)


class ArtifactStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "artifacts"

    def job_dir(self, job_id: str) -> Path:
        uuid.UUID(job_id)  # job ids are UUIDs; anything else must not become a path
        return self.root / job_id

    def path(self, job_id: str, name: str) -> Path:
        return self.job_dir(job_id) / name

    async def write_stream(
        self, job_id: str, name: str, chunks: AsyncIterator[bytes], limit: int
    ) -> int:
        size = 0
        with atomic_file(self.path(job_id, name)) as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise ArtifactTooLarge(
                        f"{name} is larger than the server's limit of {limit} bytes"
                    )
                handle.write(chunk)
        return size

    def delete(self, job_id: str, name: str) -> None:
        self.path(job_id, name).unlink(missing_ok=True)

    def delete_job(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
