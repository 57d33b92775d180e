"""`ckrv demo`: the main job end to end on this machine, in a few seconds. A server on a free
loopback port with a temporary data dir, a demo user and API token, a sample repository, one job
run by the scripted example agent with its log followed live, the diff pulled into a checkout
of the sample, then everything stopped and removed (or kept, with `keep`)."""

from __future__ import annotations

import secrets
import shlex
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ckrv.demo import processes
from ckrv.demo.sample import SPEC, make_sample
from ckrv.errors import CkrvError

EMAIL = "demo@example.com"
JOB_TIMEOUT = 120.0  # the server ends the job `timeout` past this, so the demo cannot hang

Say = Callable[[str], None]
LogSink = Callable[[dict[str, Any]], None]


@dataclass
class DemoOutput:
    """Where the demo's narration, the job's log lines and the diff go (the CLI styles them)."""

    say: Say
    log: LogSink
    diff: Callable[[str], None]


@dataclass
class DemoResult:
    job: dict[str, Any]
    root: Path
    seconds: float
    kept: bool
    server_pid: int | None = None
    api_url: str = ""
    token: str = ""
    password: str = ""
    checkout: Path | None = None


def ckrv_invocation() -> str:
    """How the user runs this same ckrv: `ckrv`, or the zipapp's path."""
    if sys.argv and sys.argv[0].endswith(".pyz") and zipfile.is_zipfile(sys.argv[0]):
        return shlex.quote(str(Path(sys.argv[0]).resolve()))
    return "ckrv"


def _create_user(data_dir: Path) -> tuple[str, str]:
    """The demo user (tier pro, so a kept server has room for more jobs) and an API token."""
    from ckrv.server import admin

    password = secrets.token_urlsafe(12)
    admin.init_data_dir(data_dir)  # the server is not started yet
    admin.add_user(data_dir, EMAIL, "Demo User", "pro", password)
    _token_id, token = admin.create_token(data_dir, EMAIL, None)
    return token, password


def _dispatch(api: Any, origin: Path, out: DemoOutput) -> dict[str, Any]:
    from ckrv.client.jobs import JobRequest, create_job
    from ckrv.contracts.jobmodel import short_id

    request = JobRequest(SPEC, str(origin), "main", agent="example", timeout_seconds=JOB_TIMEOUT)
    job = create_job(api, request)
    out.say(f'4. Dispatched job {short_id(job["id"])} "{job["spec_title"]}" to the example agent.')
    return job


def _pull(api: Any, job: dict[str, Any], checkout: Path, out: DemoOutput) -> None:
    from ckrv.client import apply
    from ckrv.client.jobs import fetch_diff, require_success

    require_success(job, hint=f"its log is above; the server log is in {checkout.parent}")
    patch = fetch_diff(api, job["id"])
    apply.apply_to_worktree(checkout, patch)
    out.say(f"6. Pulled the diff into the sample checkout {checkout}:")
    out.say(apply.diffstat(checkout, patch).rstrip())
    out.diff(patch.decode("utf-8", "replace"))


def _settle(data_dir: Path, timeout: float = 5.0) -> None:
    """Give a worker that has just reported its result the moment it needs to exit."""
    deadline = time.monotonic() + timeout
    while processes.processes_under(data_dir) and time.monotonic() < deadline:
        time.sleep(0.02)


def run_demo(out: DemoOutput, *, keep: bool = False, pace: float = 0.15) -> DemoResult:
    """Run the demo. Without `keep`, the server is stopped and every file removed on the way
    out, also on an error or Ctrl-C."""
    from ckrv.client.api import Api
    from ckrv.client.jobs import wait_for_job

    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="ckrv-demo-")).resolve()
    data_dir = root / "data"
    server: processes.DemoServer | None = None
    job: dict[str, Any] | None = None
    token, finished = "", False
    try:
        config = root / "ckrv.toml"
        processes.write_config(config, pace)
        token, password = _create_user(data_dir)
        server = processes.start_server(root, data_dir, config)
        out.say(f"1. Started a ckrv server at {server.url} (data in {data_dir}).")
        out.say(f"2. Created the user {EMAIL} and an API token for it.")
        origin, checkout = make_sample(root)
        (root / "spec.md").write_text(SPEC, encoding="utf-8")
        out.say(f"3. Created a sample repository {origin} and a checkout of it.")
        with Api(server.api_url, lambda _refresh: token) as api:
            job = _dispatch(api, origin, out)
            out.say("5. Following its log live:")
            job = wait_for_job(api, job["id"], on_log=out.log)
            _pull(api, job, checkout, out)
        finished = True
        return DemoResult(
            job=job,
            root=root,
            seconds=time.monotonic() - started,
            kept=keep,
            server_pid=server.pid,
            api_url=server.api_url,
            token=token,
            password=password,
            checkout=checkout,
        )
    finally:
        if server is not None and job is not None and not finished:
            _cancel_quietly(server, job, token)
        if not (keep and finished):
            if server is not None:
                _settle(data_dir)
                server.stop()
            shutil.rmtree(root, ignore_errors=True)


def _cancel_quietly(server: processes.DemoServer, job: dict[str, Any], token: str) -> None:
    """Best effort, on the way out after an error or Ctrl-C: the job may have ended already."""
    from ckrv.client.api import Api

    try:
        with Api(server.api_url, lambda _refresh: token, timeout=5) as api:
            if api.get(f"/jobs/{job['id']}")["status"] in ("pending", "running"):
                api.post(f"/jobs/{job['id']}/cancel")
    except (CkrvError, OSError):
        pass
