"""Best-of-N groups run their attempts in parallel. Prints a table and writes
bench/results/bench_groups.json.

A real `ckrv serve` (capacity 4, the default sandbox) runs a no-op agent and a no-op verify.
Wall time from POST /v1/groups to the group having ended (GET /v1/groups/{id} says `ended`),
for a group of 1 attempt and a group of 4, alternated so drift on a noisy machine hits both.
Target: the group of 4 within 1.3x of the single attempt (median of the runs).

Run: .venv/bin/python bench/bench_groups.py [--runs 8] [--attempts 4]"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchkit import start_server, write_results  # noqa: E402
from tests.support.helpers import make_repo  # noqa: E402

CONFIG = """
[server]
allow_local_repositories = true
max_concurrent_jobs = {capacity}
default_agent = "noop"
[agents.noop]
command = ["true"]
verify = ["true"]
"""
TARGET_RATIO = 1.3


def group_wall_ms(client: Any, repo: Path, attempts: int) -> float:
    """POST a group of `attempts` no-op attempts; milliseconds until every one has ended."""
    began = time.perf_counter()
    body = {"spec_content": "# noop\n", "git_repo_url": repo.as_uri(), "attempts": attempts}
    created = client.post("/groups", json=body)
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    while True:
        group = client.get(f"/groups/{group_id}").json()
        if group["ended"]:
            break
        time.sleep(0.005)
    elapsed = (time.perf_counter() - began) * 1000
    statuses = [a["status"] for a in group["attempts"]]
    assert statuses == ["succeeded"] * attempts, group
    return elapsed


def cpu_seconds(pid: int) -> float:
    """CPU time of the server and of every process it has waited for (workers, and theirs:
    git, the sandbox, the agent), from /proc: utime, stime, cutime, cstime."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def measure(tmp: Path, runs: int, attempts: int) -> dict[str, object]:
    repo = make_repo(tmp / "repo", {f"src/file{i}.py": f"x = {i}\n" * 50 for i in range(50)})
    srv = start_server(tmp, CONFIG.format(capacity=attempts))
    times: dict[int, list[float]] = {1: [], attempts: []}
    cpu: dict[int, list[float]] = {1: [], attempts: []}
    assert srv.proc is not None
    try:
        with srv.client(srv.add_user("bench@example.com", tier="enterprise")) as client:
            group_wall_ms(client, repo, 1)  # warm up: first clone, first sandbox
            group_wall_ms(client, repo, attempts)
            for _ in range(runs):
                for size in times:
                    before = cpu_seconds(srv.proc.pid)
                    times[size].append(group_wall_ms(client, repo, size))
                    cpu[size].append((cpu_seconds(srv.proc.pid) - before) / size)
    finally:
        srv.stop()
    median = {size: statistics.median(t) for size, t in times.items()}
    per_attempt = statistics.median(cpu[1] + cpu[attempts])
    cores = min(os.cpu_count() or 1, attempts)
    return {
        "cpu_s_per_attempt": round(per_attempt, 3),
        "cores": os.cpu_count(),
        # The ratio CPU alone allows on this machine when nothing else runs: the attempts'
        # CPU time spread over the cores, against one attempt's wall time.
        "cpu_bound_ratio": round(
            max(attempts * per_attempt / cores * 1000, median[1]) / median[1], 3
        ),
        "runs": runs,
        "capacity": attempts,
        "wall_ms_median": {str(size): round(ms, 1) for size, ms in median.items()},
        "wall_ms_all": {str(size): [round(t, 1) for t in ts] for size, ts in times.items()},
        "ratio": round(median[attempts] / median[1], 3),
        "ratios_per_run": [
            round(n / one, 3) for one, n in zip(times[1], times[attempts], strict=True)
        ],
        "target_ratio": TARGET_RATIO,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=8, help="runs of each group size")
    parser.add_argument("--attempts", type=int, default=4, help="attempts (and capacity)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        result = measure(Path(name), args.runs, args.attempts)
    medians: dict[str, float] = result["wall_ms_median"]  # type: ignore[assignment]
    every: dict[str, list[float]] = result["wall_ms_all"]  # type: ignore[assignment]
    print(f"{'group (no-op attempts)':<26}{'median ms':>11}{'min ms':>9}{'max ms':>9}")
    for size, ms in medians.items():
        print(f"{size + ' attempt(s)':<26}{ms:>11}{min(every[size]):>9}{max(every[size]):>9}")
    print(
        f"CPU per attempt {result['cpu_s_per_attempt']} s on {result['cores']} cores: CPU alone "
        f"allows {result['cpu_bound_ratio']}x"
    )
    ratio = float(result["ratio"])  # type: ignore[arg-type]
    verdict = "ok" if ratio <= TARGET_RATIO else "OVER"
    print(
        f"{args.attempts} attempts take {ratio:.2f}x one attempt's wall time "
        f"(target <= {TARGET_RATIO}x, capacity {args.attempts}, {args.runs} runs): {verdict}"
    )
    write_results("bench_groups", result)


if __name__ == "__main__":
    main()
