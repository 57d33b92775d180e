"""Helpers for tests that run jobs through a real server."""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx

from ckrv.server.identity.signing_key import load_signing_key
from ckrv.server.identity.tokens import TokenIssuer
from ckrv.server.jobs import store as jobs
from tests.support.helpers import Server, wait_for

TERMINAL = {"succeeded", "failed", "timeout", "cancelled"}


def submit(client: httpx.Client, spec: str, repo: Path | str, **extra: Any) -> dict[str, Any]:
    url = repo.as_uri() if isinstance(repo, Path) else repo
    response = client.post("/jobs", json={"spec_content": spec, "git_repo_url": url, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_status(
    client: httpx.Client, job_id: str, statuses: set[str] | None = None, timeout: float = 60
) -> dict[str, Any]:
    wanted = statuses or TERMINAL

    def reached() -> dict[str, Any] | None:
        current = job(client, job_id)
        return current if current["status"] in wanted else None

    return dict(wait_for(reached, timeout=timeout, what=f"job {job_id} to reach {sorted(wanted)}"))


def wait_phase(
    client: httpx.Client, job_id: str, phase: str, timeout: float = 60
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        current = job(client, job_id)
        return current if current["phase"] == phase else None

    return dict(wait_for(reached, timeout=timeout, what=f"job {job_id} to reach phase {phase}"))


def logs(data_dir: Path, job_id: str) -> list[str]:
    """Messages stored for a job, from the rows or the archive, via the API-independent store."""
    import json
    import sqlite3

    archive = data_dir / "artifacts" / job_id / "log.jsonl"
    if archive.exists():
        return [json.loads(line)["message"] for line in archive.read_text().splitlines() if line]
    conn = sqlite3.connect(data_dir / "ckrv.db")
    try:
        return [
            r[0]
            for r in conn.execute(
                "SELECT message FROM job_logs WHERE job_id = ? ORDER BY seq", (job_id,)
            )
        ]
    finally:
        conn.close()


def processes_with(marker: str) -> list[int]:
    """Pids whose command line or environment mentions `marker` (to find leftover processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (marker.encode() in cmdline or marker.encode() in environ):
            found.append(int(entry.name))
    return found


def hold_for_a_worker(server: Server, job_id: str) -> str:
    """Dispatch a waiting job (on a paused server) to a stand-in worker, the test: record an
    attempt with the engine's own function, and mint that attempt's worker token with the
    server's key."""
    attempt = uuid.uuid4().hex
    conn = sqlite3.connect(server.data_dir / "ckrv.db", timeout=30)
    try:
        with conn:
            assert jobs.mark_dispatched(conn, job_id, attempt, "local")
    finally:
        conn.close()
    issuer = TokenIssuer(load_signing_key(server.data_dir), server.url, 900)
    return issuer.worker_token(job_id, 3600, attempt)


def worker_token_of_running_attempt(server: Server, job_id: str) -> str:
    """A worker token for the attempt now running (the worker's own never leaves its memory),
    minted with the server's key."""
    conn = sqlite3.connect(server.data_dir / "ckrv.db", timeout=30)
    try:
        (attempt,) = conn.execute("SELECT attempt FROM jobs WHERE id = ?", (job_id,)).fetchone()
    finally:
        conn.close()
    issuer = TokenIssuer(load_signing_key(server.data_dir), server.url, 900)
    return issuer.worker_token(job_id, 3600, attempt)
