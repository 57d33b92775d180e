"""The worker starts once per job, so what it imports is paid on every job: its entry
(`python -m ckrv.worker`, what executors run) stays clear of the CLI (click, rich), of httpx
and of asyncio (only the egress proxy of an allowlisted job needs it, and loads it then)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("httpx", "click", "rich", "asyncio", "anyio", "ckrv.cli")


def heavy(modules: list[str]) -> list[str]:
    return sorted({m for m in modules for h in HEAVY if m == h or m.startswith(h + ".")})


def test_the_worker_entry_imports_no_cli_no_httpx_and_no_asyncio() -> None:
    # The real entry, to its usage error (no launch environment): every import of a start.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path)}
    started = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ckrv.worker"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert started.returncode == 2, started.stderr
    assert "error: ckrv worker is started by the server" in started.stderr
    imported = [
        line.split("|")[2].strip()
        for line in started.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    ]
    assert "ckrv.worker.pipeline" in imported  # the whole worker was loaded
    assert heavy(imported) == []


def loaded_by(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return heavy(json.loads(out.stdout.splitlines()[-1]))


def test_the_egress_proxy_loads_asyncio_only_when_an_allowlist_starts_it() -> None:
    code = (
        "from ckrv.contracts.network import NetworkPolicy\n"
        "from ckrv.worker.egress import start_egress\n"
        "start_egress(NetworkPolicy('none', (), 'test'), print).close()\n"
    )
    assert loaded_by(code) == []
    allowlisted = code.replace("'none', ()", "'allowlist', ('example.com',)")
    assert "asyncio" in loaded_by(allowlisted)
