"""The sandbox's cost. Prints a table and writes bench/results/bench_sandbox.json.

1. Per job: POST -> succeeded for a job with a setup, an agent and a verify step (three
   sandboxed launches) on two servers of the same config but `sandbox = "bwrap"` and
   `sandbox = "none"`, run alternately in one process so drift on a noisy machine hits both.
   Target: the sandbox adds at most 50 ms per job (median).
2. Per launch: `true` run directly, under the rlimits alone (prlimit), and in the job's sandbox
   (bwrap + setpriv when root + prlimit), interleaved.

Run: .venv/bin/python bench/bench_sandbox.py [--jobs 12] [--launches 40]"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchkit import noop_config, start_server, write_results  # noqa: E402
from ckrv.limits import Limits  # noqa: E402
from ckrv.sandbox import Sandbox, unconfined_command  # noqa: E402
from tests.support.helpers import Server, make_repo  # noqa: E402

TARGET_MS = 50.0


def start(tmp: Path, sandbox: str) -> Server:
    return start_server(
        tmp, noop_config(1, verify=True, server_extra=f'sandbox = "{sandbox}"\n'), sandbox
    )


def one_job(client, repo: Path) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    body = {"spec_content": "# noop\n", "git_repo_url": repo.as_uri(), "setup": "true"}
    job_id = client.post("/jobs", json=body).json()["id"]
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] not in ("pending", "running"):
            break
        time.sleep(0.005)
    assert job["status"] == "succeeded", job
    return (time.perf_counter() - began) * 1000


def per_job(tmp: Path, runs: int) -> dict[str, object]:
    repo = make_repo(tmp / "repo", {f"src/file{i}.py": f"x = {i}\n" * 50 for i in range(50)})
    servers = {mode: start(tmp, mode) for mode in ("bwrap", "none")}
    times: dict[str, list[float]] = {mode: [] for mode in servers}
    try:
        clients = {
            m: s.client(s.add_user(f"{m}@example.com", tier="enterprise"))
            for m, s in servers.items()
        }
        for client in clients.values():
            one_job(client, repo)  # warm up
        for _ in range(runs):
            for mode, client in clients.items():
                times[mode].append(one_job(client, repo))
        for client in clients.values():
            client.close()
    finally:
        for srv in servers.values():
            srv.stop()
    median = {mode: round(statistics.median(t), 1) for mode, t in times.items()}
    return {
        "runs": runs,
        "job_ms_median": median,
        "job_ms_all": {mode: [round(t, 1) for t in ts] for mode, ts in times.items()},
        "added_ms": round(median["bwrap"] - median["none"], 1),
        "target_ms": TARGET_MS,
    }


def per_launch(tmp: Path, runs: int) -> dict[str, float]:
    workspace = tmp / "data" / "workspaces" / "job"
    (workspace / "checkout").mkdir(parents=True)
    limits = Limits(memory=4 * 1024**3, processes=1024, disk=20 * 1024**3)
    sandbox = Sandbox(workspace, hidden=(tmp / "data", Path.home()), limits=limits)
    sandbox.enter([workspace / "checkout"])
    argvs = {
        "direct": ["true"],
        "rlimits only": unconfined_command(["true"], limits),
        "sandbox": sandbox.command(["true"], workspace / "checkout"),
    }
    env = sandbox.environment(dict(os.environ))
    times: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(runs):
        for name, argv in argvs.items():
            began = time.perf_counter()
            subprocess.run(argv, env=env, cwd=workspace / "checkout", check=True)
            times[name].append((time.perf_counter() - began) * 1000)
    return {name: round(statistics.median(t), 2) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=12, help="jobs per side")
    parser.add_argument("--launches", type=int, default=40, help="launches per kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        launches = per_launch(tmp, args.launches)
        jobs = per_job(tmp, args.jobs)
    print(f"{'per launch (median)':<26}{'ms':>8}")
    for kind, ms in launches.items():
        print(f"{kind:<26}{ms:>8}")
    print(f"{'per job, 3 launches':<26}{'ms':>8}")
    for mode, ms in jobs["job_ms_median"].items():  # type: ignore[attr-defined]
        print(f"sandbox = {mode:<15}{ms:>8}")
    verdict = "ok" if float(jobs["added_ms"]) <= TARGET_MS else "OVER"  # type: ignore[arg-type]
    print(f"sandbox adds {jobs['added_ms']} ms per job (target <= {TARGET_MS:g}): {verdict}")
    write_results("bench_sandbox", {"per_launch_ms": launches, "per_job": jobs})


if __name__ == "__main__":
    main()
