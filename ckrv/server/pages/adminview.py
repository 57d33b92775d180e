"""What the admin page shows besides users: the server's health (executor, sandbox, capacity,
disk use of the database and the artifacts), the queue and running jobs of every user, and the
effective settings with nothing secret in them."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ckrv.server.identity.users import all_users
from ckrv.server.jobs import store as jobs
from ckrv.server.services import Services
from ckrv.settings import SETTINGS_TABLE, Settings

QUEUE_SHOWN = 200
# No setting of the config table holds a secret (keys live in the data dir's keys/ and in
# CKRV_MASTER_KEY, tokens in the database); a URL's user:password part is left out all the same.
_JOB_COLUMNS = "seq, id, user_id, status, phase, agent, spec_title, git_repo_url, created_at"


def tree_bytes(root: Path) -> int:
    """The bytes of every file under `root` (run it in a thread: it walks the tree)."""
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue  # deleted while we walked
    return total


def disk_use(data_dir: Path) -> dict[str, int]:
    """Bytes used by the database (with its WAL), the artifacts and workspaces, and free on
    the data dir's filesystem. Walks directories: call it off the event loop."""
    database = sum(
        (data_dir / name).stat().st_size
        for name in ("ckrv.db", "ckrv.db-wal", "ckrv.db-shm")
        if (data_dir / name).exists()
    )
    return {
        "database": database,
        "artifacts": tree_bytes(data_dir / "artifacts"),
        "workspaces": tree_bytes(data_dir / "workspaces"),
        "free": shutil.disk_usage(data_dir).free,
    }


def health(svc: Services, running: int, queued: int) -> dict[str, Any]:
    settings = svc.settings
    sandbox = svc.confinement.details() if svc.confinement is not None else {}
    return {
        "executor": settings.executor,
        "sandbox": sandbox,
        "capacity": settings.max_concurrent_jobs,
        "running": running,
        "queued": queued,
        "data_dir": str(settings.data_dir),
    }


def _shown(value: Any) -> str:
    if isinstance(value, str) and "@" in value and "://" in value:  # userinfo in a URL
        parts = urlsplit(value)
        host = parts.hostname or ""
        value = urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    return str(value) if value != "" else "(not set)"


def effective_settings(settings: Settings) -> list[dict[str, str]]:
    """Each setting of the config table as the server runs with it, and the agents' names."""
    rows = []
    for section, key, _convert, _default, doc in SETTINGS_TABLE:
        attr = key if section == "server" else f"{section}_{key}"
        rows.append(
            {"name": f"[{section}] {key}", "value": _shown(getattr(settings, attr, "")), "doc": doc}
        )
    rows.append({"name": "agents", "value": _shown(sorted(settings.agents)), "doc": ""})
    return rows


def queue(conn: sqlite3.Connection) -> dict[str, Any]:
    """Running and queued jobs of every user (each with its owner's email)."""
    emails = {u["id"]: u["email"] for u in all_users(conn)}
    running = jobs.active(conn, _JOB_COLUMNS)
    waiting = jobs.queued(conn, _JOB_COLUMNS, QUEUE_SHOWN + 1)

    def shown(row: sqlite3.Row) -> dict[str, Any]:
        return {**dict(row), "email": emails.get(row["user_id"], "?")}

    return {
        "running": [shown(r) for r in running],
        "queued": [shown(r) for r in waiting[:QUEUE_SHOWN]],
        "more_queued": len(waiting) > QUEUE_SHOWN,
    }
