"""Kubernetes executor benchmarks, against the simulated cluster (tests/support/k8s_sim) with a
real `ckrv serve --executor kubernetes`. Prints a table and writes bench/results/bench_k8s.json.

1. Dispatch cost: N jobs queued at once (capacity N); for each, the time from the dispatcher
   taking it (`dispatched_at` in the database) to its Job and its Secret existing in the
   cluster (the simulated API records when each object was stored). Side by side, the same
   two creations made directly with the official client, sequentially: the floor any
   executor pays to this API server.
   Both start the same pods, so the simulated cluster does the same work behind each.
2. The watch keeping up: the N pods all run at once and finish within a few seconds of one
   another (their worker never reports, so only the watch can end the ckrv job); for each
   job, the time from its Job's Complete condition being stored to the job's `completed_at`
   in the database: p50, p99, max; and the server's CPU time over the run.

Run: .venv/bin/python bench/bench_k8s.py [--jobs 200]"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.helpers import Server, make_repo, wait_for  # noqa: E402
from tests.support.k8s_sim import Image, SimCluster  # noqa: E402
from tests.support.k8s_sim.store import Event  # noqa: E402

IMAGE = "ckrv-sleeper:bench"
# A worker that never reports and ends 6-9 s after it starts (spread by its pid).
SLEEPER = Image(
    binaries={"ckrv": ("/bin/sh", "-c", "exec sleep $((6 + $$ % 3)).$(($$ % 1000))", "ckrv")}
)
CONFIG = """
[server]
allow_local_repositories = true
max_concurrent_jobs = {jobs}
default_agent = "noop"

[agents.noop]
command = ["true"]

[kubernetes]
kubeconfig = "{kubeconfig}"
worker_image = "{image}"
pending_grace = "10m"
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "mean_ms": statistics.fmean(values) * 1000,
        "p50_ms": pct(values, 0.5) * 1000,
        "p99_ms": pct(values, 0.99) * 1000,
        "max_ms": max(values) * 1000,
    }


class Recorder:
    """Wall-clock times the simulated API stored each object and each Job's completion."""

    def __init__(self) -> None:
        self.added: dict[str, float] = {}
        self.completed: dict[str, float] = {}

    def __call__(self, event: Event) -> None:
        name = event.obj["metadata"]["name"]
        if event.type == "ADDED":
            self.added.setdefault(f"{event.res.plural}/{name}", time.time())
        conditions = event.obj.get("status", {}).get("conditions", [])
        if event.res.plural == "jobs" and any(c["type"] == "Complete" for c in conditions):
            self.completed.setdefault(name, time.time())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_floor(sim: SimCluster, kubeconfig: Path, count: int) -> list[float]:
    """Job + Secret created straight through the official client, one pair after another."""
    from kubernetes import client, config

    api = config.new_client_from_config(str(kubeconfig))
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    durations = []
    for i in range(count):
        name = f"raw-{i}"
        job = {
            "metadata": {"name": name},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {
                                "name": "worker",
                                "image": IMAGE,
                                "envFrom": [{"secretRef": {"name": name}}],
                            }
                        ],
                    }
                },
            },
        }
        started = time.perf_counter()
        created = batch.create_namespaced_job("ckrv-jobs", job, _preload_content=False)
        uid = json.loads(created.data)["metadata"]["uid"]
        secret = {
            "metadata": {
                "name": name,
                "ownerReferences": [
                    {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid}
                ],
            },
            "data": {"CKRV_JOB_TOKEN": base64.b64encode(b"x" * 300).decode()},
        }
        core.create_namespaced_secret("ckrv-jobs", secret, _preload_content=False)
        durations.append(time.perf_counter() - started)
    for i in range(count):  # take them away again, pods and all
        batch.delete_namespaced_job(f"raw-{i}", "ckrv-jobs", propagation_policy="Background")
    wait_for(lambda: not sim.objects("pods"), timeout=60, what="the raw pods to go")
    api.close()
    return durations


def run(jobs: int, tmp: Path) -> dict[str, Any]:
    sim = SimCluster(tmp / "node", history=50_000).start()
    sim.faults.memory_poll = 1.0
    sim.push_image(IMAGE, SLEEPER)
    recorder = Recorder()
    sim.call(lambda: sim.parts.store.listeners.append(recorder))  # type: ignore[union-attr]
    kubeconfig = sim.kubeconfig(tmp / "kubeconfig")
    floor = raw_floor(sim, kubeconfig, jobs)

    config = tmp / "ckrv.toml"
    config.write_text(CONFIG.format(jobs=jobs, kubeconfig=kubeconfig, image=IMAGE))
    (tmp / "cfg").mkdir()
    server = Server(
        data_dir=tmp / "data",
        config_dir=tmp / "cfg",
        config=config,
        extra_args=["--executor", "kubernetes"],
    ).start()
    try:
        assert server.proc is not None
        token = server.add_user("bench@example.com", tier="enterprise")
        repo = make_repo(tmp / "repo").as_uri()
        cpu_before = cpu_seconds(server.proc.pid)
        with server.client(token) as api:
            ids = [
                api.post(
                    "/jobs", json={"spec_content": f"# Job {i}\n", "git_repo_url": repo}
                ).json()["id"]
                for i in range(jobs)
            ]

            wait_for(
                lambda: ended(server.data_dir) >= jobs,
                timeout=180,
                interval=0.5,
                what="every job to end",
            )
        cpu = cpu_seconds(server.proc.pid) - cpu_before
    finally:
        server.stop()
        sim.stop()
    return analyse(server.data_dir, ids, recorder, floor, cpu)


def ended(data_dir: Path) -> int:
    conn = sqlite3.connect(data_dir / "ckrv.db")
    try:
        return int(
            conn.execute("SELECT COUNT(*) FROM jobs WHERE completed_at IS NOT NULL").fetchone()[0]
        )
    finally:
        conn.close()


def stamp(text: str) -> float:
    from ckrv.timeutil import parse_iso

    moment = parse_iso(text)
    assert moment is not None
    return moment.timestamp()


def analyse(
    data_dir: Path, ids: list[str], rec: Recorder, floor: list[float], cpu: float
) -> dict[str, Any]:
    conn = sqlite3.connect(data_dir / "ckrv.db")
    conn.row_factory = sqlite3.Row
    rows = {r["id"]: r for r in conn.execute("SELECT * FROM jobs")}
    conn.close()
    dispatch, to_job, watch, reasons = [], [], [], set()
    for job_id in ids:
        row = rows[job_id]
        name = f"ckrv-job-{job_id}"
        dispatched = stamp(row["dispatched_at"])
        to_job.append(rec.added[f"jobs/{name}"] - dispatched)
        dispatch.append(rec.added[f"secrets/{name}-env"] - dispatched)
        watch.append(stamp(row["completed_at"]) - rec.completed[name])
        reasons.add((row["status"], row["error_message"]))
    first = min(stamp(rows[i]["dispatched_at"]) for i in ids)
    last = max(rec.added[f"secrets/ckrv-job-{i}-env"] for i in ids)
    return {
        "jobs": len(ids),
        "dispatch_to_job_created": summary(to_job),
        "dispatch_to_job_and_secret_created": summary(dispatch),
        "raw_client_job_and_secret": summary(floor),
        "dispatch_vs_raw_p50": pct(dispatch, 0.5) / pct(floor, 0.5),
        "dispatch_rate_jobs_per_s": len(ids) / (last - first),
        "job_complete_to_ckrv_terminal": summary(watch),
        "server_cpu_seconds": cpu,
        "server_cpu_ms_per_job": cpu / len(ids) * 1000,
        "outcomes": sorted(f"{status}: {message}" for status, message in reasons),
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"\nkubernetes executor, {result['jobs']} jobs at once (simulated cluster)\n")
    print(f"{'measure':48} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for key, label in [
        ("dispatch_to_job_created", "dispatched -> Job stored"),
        ("dispatch_to_job_and_secret_created", "dispatched -> Job + Secret stored"),
        ("raw_client_job_and_secret", "raw client: Job + Secret (floor)"),
        ("job_complete_to_ckrv_terminal", "Job Complete -> ckrv job terminal"),
    ]:
        row = result[key]
        print(f"{label:48} {row['p50_ms']:9.1f} {row['p99_ms']:9.1f} {row['max_ms']:9.1f}")
    print(
        f"\ndispatch p50 vs raw floor: {result['dispatch_vs_raw_p50']:.2f}x; "
        f"{result['dispatch_rate_jobs_per_s']:.0f} jobs/s dispatched; "
        f"server CPU {result['server_cpu_ms_per_job']:.1f} ms per job"
    )
    print("outcomes:", "; ".join(result["outcomes"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ckrv-bench-k8s-") as tmp:
        result = run(args.jobs, Path(tmp))
    print_table(result)
    out = ROOT / "bench" / "results" / "bench_k8s.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
