"""Job engine benchmarks. Prints a table and writes bench/results/bench_jobs.json.

1. POST /v1/jobs (dispatch paused) and GET /v1/jobs/{id} vs a bare Starlette route on the same
   uvicorn, interleaved in one run with one load generator: rps ratio and p99 at 32 clients,
   with an API token and with a login's access token. Targets: GET at least 0.6x, POST at
   least 0.5x, p99 under 25 ms.
2. Job overhead: POST -> succeeded for an agent that does nothing, minus a plain `git clone`.
   Target: under 500 ms.
3. Drain: 200 queued no-op jobs with capacity 2: jobs per second and the server's peak RSS.

Run: .venv/bin/python bench/bench_jobs.py [--seconds 4]"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchkit import noop_config, write_results  # noqa: E402
from bench.benchkit import start_server as start_configured  # noqa: E402
from bench.loadgen import build, run  # noqa: E402
from tests.support.helpers import PYTHON, Server, device_login, make_repo  # noqa: E402


def start_server(tmp: Path, capacity: int, name: str = "srv") -> Server:
    return start_configured(tmp, noop_config(capacity), name)


def start_bare(body: dict[str, object]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [PYTHON, str(ROOT / "bench" / "bare_server.py"), "x", json.dumps(body)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, int(line.rsplit(":", 1)[1])


def api_speed(tmp: Path, seconds: float) -> dict[str, object]:
    srv = start_server(tmp, capacity=0, name="api")
    token = srv.add_user("bench@example.com", tier="enterprise")
    with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}") as root:
        access = device_login(root, srv.data_dir, "bench@example.com")["access_token"]
    repo = "https://git.example.com/me/app.git"
    body = json.dumps({"spec_content": "# Bench\nprint hi\n", "git_repo_url": repo}).encode()
    with srv.client(token) as client:
        job = client.post("/jobs", content=body).json()
    bare, bare_port = start_bare(job)
    # An API token (scripts, CI) and a login's access token (the CLI after `ckrv cloud login`).
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    login = {"Authorization": f"Bearer {access}", "Content-Type": "application/json"}
    host = "127.0.0.1"
    job_path = f"/v1/jobs/{job['id']}"
    cases = {
        "GET bare": (bare_port, lambda n: build("GET", "/bare", host)),
        "GET /v1/jobs/{id}": (srv.port, lambda n: build("GET", job_path, host, auth)),
        "GET ... (login)": (srv.port, lambda n: build("GET", job_path, host, login)),
        "POST bare": (
            bare_port,
            lambda n: build("POST", "/bare", host, {"Content-Type": "application/json"}, body),
        ),
        "POST /v1/jobs": (srv.port, lambda n: build("POST", "/v1/jobs", host, auth, body)),
        "POST ... (login)": (srv.port, lambda n: build("POST", "/v1/jobs", host, login, body)),
    }
    results: dict[str, dict[str, float]] = {}
    try:
        for port, make in cases.values():
            run(host, port, make, 8, 0.5)  # warm up
        for _round in range(2):  # interleave so drift on a noisy machine hits both sides
            for name, (port, make) in cases.items():
                result = run(host, port, make, 32, seconds / 2)
                bad = {s: c for s, c in result.statuses.items() if s >= 400}
                assert not bad, f"{name}: error statuses {bad}"
                row = result.row()
                prev = results.get(name)
                results[name] = (
                    row
                    if prev is None
                    else {
                        "rps": round((prev["rps"] + row["rps"]) / 2, 1),
                        "p50_ms": max(prev["p50_ms"], row["p50_ms"]),
                        "p99_ms": max(prev["p99_ms"], row["p99_ms"]),
                        "mean_ms": round((prev["mean_ms"] + row["mean_ms"]) / 2, 2),
                    }
                )
    finally:
        bare.terminate()
        bare.wait()
        srv.stop()

    def ratio(case: str, bare: str) -> float:
        return round(results[case]["rps"] / results[bare]["rps"], 2)

    return {
        "rows": results,
        "get_ratio": ratio("GET /v1/jobs/{id}", "GET bare"),
        "get_ratio_login": ratio("GET ... (login)", "GET bare"),
        "post_ratio": ratio("POST /v1/jobs", "POST bare"),
        "post_ratio_login": ratio("POST ... (login)", "POST bare"),
    }


def wait_done(client, job_id: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] not in ("pending", "running"):
            return dict(job)
        time.sleep(0.005)


def overhead(tmp: Path, runs: int = 8) -> dict[str, float]:
    repo = make_repo(tmp / "repo", {f"src/file{i}.py": f"x = {i}\n" * 50 for i in range(50)})
    srv = start_server(tmp, capacity=2, name="overhead")
    token = srv.add_user("over@example.com", tier="enterprise")
    clone_times, job_times = [], []
    try:
        with srv.client(token) as client:
            for i in range(runs):
                began = time.perf_counter()
                subprocess.run(
                    [
                        "git",
                        "clone",
                        "-q",
                        "--single-branch",
                        "--branch",
                        "main",
                        repo.as_uri(),
                        str(tmp / f"clone{i}"),
                    ],
                    check=True,
                )
                clone_times.append(time.perf_counter() - began)
                began = time.perf_counter()
                job_id = client.post(
                    "/jobs", json={"spec_content": "# noop\n", "git_repo_url": repo.as_uri()}
                ).json()["id"]
                job = wait_done(client, job_id)
                job_times.append(time.perf_counter() - began)
                assert job["status"] == "succeeded", job
    finally:
        srv.stop()
    clone, total = statistics.median(clone_times), statistics.median(job_times)
    return {
        "git_clone_ms": round(clone * 1000, 1),
        "job_ms": round(total * 1000, 1),
        "overhead_ms": round((total - clone) * 1000, 1),
    }


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def drain(tmp: Path, count: int = 200) -> dict[str, float]:
    repo = make_repo(tmp / "drain-repo")
    srv = start_server(tmp, capacity=0, name="drain")
    token = srv.add_user("drain@example.com", tier="enterprise")
    with srv.client(token) as client:
        for i in range(count):
            client.post(
                "/jobs", json={"spec_content": f"# noop {i}\n", "git_repo_url": repo.as_uri()}
            )
    srv.stop()
    config = tmp / "drain.toml"
    config.write_text(
        config.read_text().replace("max_concurrent_jobs = 0", "max_concurrent_jobs = 2")
    )
    began = time.perf_counter()
    srv.start(port=srv.port)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set() and srv.proc is not None:
            peak = max(peak, rss_kb(srv.proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with srv.client(token) as client:
            while any(
                client.get("/jobs", params={"status": s, "limit": 1}).json()["jobs"]
                for s in ("pending", "running")
            ):
                time.sleep(0.1)
            failed = client.get("/jobs", params={"status": "failed", "limit": 100}).json()["jobs"]
        elapsed = time.perf_counter() - began
    finally:
        stop.set()
        sampler.join()
        srv.stop()
    assert not failed, failed[:1]
    return {
        "jobs": count,
        "seconds": round(elapsed, 2),
        "jobs_per_second": round(count / elapsed, 2),
        "server_peak_rss_mb": round(peak / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0, help="load time per case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        speed = api_speed(tmp, args.seconds)
        over = overhead(tmp)
        drained = drain(tmp)
    print(f"{'case':<22}{'rps':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, row in speed["rows"].items():  # type: ignore[attr-defined]
        print(f"{name:<22}{row['rps']:>10}{row['p50_ms']:>10}{row['p99_ms']:>10}")
    print(
        f"GET ratio {speed['get_ratio']} API token, {speed['get_ratio_login']} login (target >= 0.6);"
        f" POST ratio {speed['post_ratio']} API token, {speed['post_ratio_login']} login"
        " (target >= 0.5)"
    )
    print(
        f"job overhead: job {over['job_ms']} ms - git clone {over['git_clone_ms']} ms = {over['overhead_ms']} ms (target < 500)"
    )
    print(
        f"drain: {drained['jobs']} jobs in {drained['seconds']} s = {drained['jobs_per_second']} jobs/s, "
        f"server peak RSS {drained['server_peak_rss_mb']} MB"
    )
    write_results("bench_jobs", {"api": speed, "overhead": over, "drain": drained})


if __name__ == "__main__":
    main()
