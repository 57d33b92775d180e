"""The filesystem artifact store: data_dir/artifacts/<job id>/<name> (diffs, archived logs).
Writes go through `AtomicFile`, so a reader never sees half an artifact and a crash right
after a write keeps it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

from ckrv.errors import PayloadTooLarge


class ArtifactTooLarge(PayloadTooLarge):
    """An artifact upload past its size limit (a 413)."""


class AtomicFile:
    """A file that appears at `path` whole or not at all: written beside it under a temporary
    name; `commit` fsyncs it, renames it over `path` and fsyncs the directory so the rename
    lasts too (slow on a real disk: from async code, commit in a thread); `discard` drops it."""

    def __init__(self, path: Path, mode: str = "wb", encoding: str | None = None) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        self.handle: IO[Any] = open(self.tmp, mode, encoding=encoding)  # noqa: SIM115

    def commit(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def discard(self) -> None:
        """Close and delete the temporary file (nothing to do after a commit)."""
        self.handle.close()
        self.tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """An AtomicFile's handle, committed when the block ends without an error."""
    atomic = AtomicFile(path, mode, encoding)
    try:
        yield atomic.handle
        atomic.commit()
    finally:
        atomic.discard()


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
        atomic = AtomicFile(self.path(job_id, name))
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise ArtifactTooLarge(
                        f"{name} is larger than the server's limit of {limit} bytes"
                    )
                atomic.handle.write(chunk)
            await asyncio.to_thread(atomic.commit)  # fsyncs: not on the event loop
        finally:
            atomic.discard()
        return size

    def delete(self, job_id: str, name: str) -> None:
        self.path(job_id, name).unlink(missing_ok=True)

    def delete_job(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
