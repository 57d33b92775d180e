"""The worker starts once per job, so what it imports is paid on every job: its entry
(`python -m ckrv.worker`, what executors run) stays clear of the CLI (click, rich), of httpx
and of asyncio (only the egress proxy of an allowlisted job needs it, and loads it then)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("httpx", "click", "rich", "asyncio", "anyio", "ckrv.cli")


def loaded_by(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = json.loads(out.stdout.splitlines()[-1])
    return sorted(
        {m for m in modules for heavy in HEAVY if m == heavy or m.startswith(heavy + ".")}
    )


def test_the_worker_entry_imports_no_cli_no_httpx_and_no_asyncio() -> None:
    assert loaded_by("import ckrv.worker.__main__") == []


def test_the_egress_proxy_loads_asyncio_only_when_an_allowlist_starts_it() -> None:
    code = (
        "from ckrv.contracts.network import NetworkPolicy\n"
        "from ckrv.worker.egress import start_egress\n"
        "start_egress(NetworkPolicy('none', (), 'test'), print).close()\n"
    )
    assert loaded_by(code) == []
    allowlisted = code.replace("'none', ()", "'allowlist', ('example.com',)")
    assert "asyncio" in loaded_by(allowlisted)
