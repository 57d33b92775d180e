"""What the bench scripts share: a real `ckrv serve` started from a config text, and the
JSON file each writes its results to (bench/results/<script>.json)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.helpers import Server

ROOT = Path(__file__).resolve().parent.parent


def start_server(tmp: Path, config_text: str, name: str = "srv") -> Server:
    """A `ckrv serve` configured by `config_text`, its data and client files under tmp/name*."""
    config = tmp / f"{name}.toml"
    config.write_text(config_text)
    (tmp / f"{name}-config").mkdir(exist_ok=True)
    return Server(data_dir=tmp / name, config_dir=tmp / f"{name}-config", config=config).start()


def noop_config(capacity: int, *, verify: bool = False, server_extra: str = "") -> str:
    """A server config whose default agent does nothing (`true`), optionally verified by a
    no-op too: what a bench of the job machinery itself runs."""
    return (
        f"[server]\nallow_local_repositories = true\nmax_concurrent_jobs = {capacity}\n"
        f'default_agent = "noop"\n{server_extra}[agents.noop]\ncommand = ["true"]\n'
        + ('verify = ["true"]\n' if verify else "")
    )


def write_results(script: str, result: object) -> Path:
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{script}.json"
    path.write_text(json.dumps(result, indent=2))
    return path
