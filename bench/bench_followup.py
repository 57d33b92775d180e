"""Follow-up overhead: a follow-up (`POST /v1/jobs/{id}/continue`: the parent's bundle fetched
and unbundled, the thread's history written, a delta and a bundle uploaded) against a fresh
job on the same repository, both running an agent that appends one line. Runs alternate
(fresh, follow-up, fresh, ...) on one server, the follow-ups one thread that grows a step
each time; each is timed from the POST to `succeeded`. Target: the follow-up's median at most
300 ms over the fresh job's. Prints a table and writes bench/results/bench_followup.json.

Run: .venv/bin/python bench/bench_followup.py [--runs 10]"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchkit import start_server as start_configured  # noqa: E402
from bench.benchkit import write_results  # noqa: E402
from tests.support.helpers import Server, make_repo  # noqa: E402

CONFIG = """
[server]
allow_local_repositories = true
max_concurrent_jobs = 2
default_agent = "appender"
[agents.appender]
command = ["sh", "-c", "echo step >> notes.txt"]
"""
TARGET_MS = 300.0


def start_server(tmp: Path) -> Server:
    return start_configured(tmp, CONFIG)


def wait_done(client: httpx.Client, job_id: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["status"] not in ("pending", "running"):
            return job
        time.sleep(0.005)


def timed(client: httpx.Client, path: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    began = time.perf_counter()
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    job = wait_done(client, response.json()["id"])
    assert job["status"] == "succeeded", job
    return time.perf_counter() - began, job


def measure(tmp: Path, runs: int) -> dict[str, Any]:
    files = {f"src/file{i}.py": f"x = {i}\n" * 50 for i in range(50)}
    repo = make_repo(tmp / "repo", {**files, "notes.txt": "start\n"})
    srv = start_server(tmp)
    token = srv.add_user("bench@example.com", tier="enterprise")
    fresh_s: list[float] = []
    follow_s: list[float] = []
    try:
        with srv.client(token) as client:
            fresh = {"spec_content": "# Append\n", "git_repo_url": repo.as_uri()}
            _, parent = timed(client, "/jobs", fresh)  # the thread's first job (and a warm-up)
            for _ in range(runs):
                seconds, _job = timed(client, "/jobs", fresh)
                fresh_s.append(seconds)
                seconds, parent = timed(
                    client, f"/jobs/{parent['id']}/continue", {"spec_content": "# Again\n"}
                )
                follow_s.append(seconds)
            assert parent["start_commit"] and parent["diff_stats"]["insertions"] == runs + 1
    finally:
        srv.stop()
    fresh_ms, follow_ms = statistics.median(fresh_s) * 1000, statistics.median(follow_s) * 1000
    return {
        "runs": runs,
        "fresh_ms": [round(s * 1000, 1) for s in fresh_s],
        "follow_up_ms": [round(s * 1000, 1) for s in follow_s],
        "fresh_median_ms": round(fresh_ms, 1),
        "follow_up_median_ms": round(follow_ms, 1),
        "overhead_ms": round(follow_ms - fresh_ms, 1),
        "target_ms": TARGET_MS,
        "thread_steps_at_end": runs + 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10, help="fresh jobs and follow-ups each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        result = measure(Path(tmp_name), args.runs)
    print(f"{'run':>4}{'fresh ms':>12}{'follow-up ms':>15}")
    for n, (a, b) in enumerate(zip(result["fresh_ms"], result["follow_up_ms"], strict=True), 1):
        print(f"{n:>4}{a:>12}{b:>15}")
    print(
        f"median: fresh {result['fresh_median_ms']} ms, follow-up "
        f"{result['follow_up_median_ms']} ms; overhead {result['overhead_ms']} ms "
        f"(target < {TARGET_MS:g})"
    )
    write_results("bench_followup", result)


if __name__ == "__main__":
    main()
