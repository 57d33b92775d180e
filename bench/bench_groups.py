"""Best-of-N groups run their attempts in parallel. Prints a table and writes
bench/results/bench_groups.json.

A real `ckrv serve` (capacity = the largest group, the default sandbox) runs a no-op agent and a
no-op verify. Wall time from POST /v1/groups until every attempt has ended, waited for as
`ckrv run --attempts N --wait` does (each attempt's log stream, no polling), for groups of 1
attempt, of as many attempts as the machine has cores, and of `--attempts` (4), alternated so
drift on a noisy machine hits all of them. Target: the group of 4 within 1.3x of the single
attempt (medians).

Beside each ratio the table prints what CPU alone allows on this machine: the attempts' CPU time
(server, workers, git, sandbox: everything the server's process tree spends) spread over
min(attempts, cores) cores, against one attempt's wall time. A group cannot beat that floor
whatever the scheduling; how close it comes shows what the group code itself costs. It also
prints how far apart the attempts of a group started (the server launches them together).

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

from bench.benchkit import noop_config, start_server, write_results  # noqa: E402
from ckrv.client.api import Api  # noqa: E402
from ckrv.client.groups import wait_for_group  # noqa: E402
from ckrv.timeutil import parse_iso  # noqa: E402
from tests.support.helpers import make_repo  # noqa: E402

TARGET_RATIO = 1.3


def group_run(api: Api, repo: Path, attempts: int) -> tuple[float, float]:
    """POST a group of `attempts` no-op attempts and wait for it as the CLI does: milliseconds
    until every attempt has ended, and milliseconds between the first and last attempt's start."""
    began = time.perf_counter()
    body = {"spec_content": "# noop\n", "git_repo_url": repo.as_uri(), "attempts": attempts}
    group = wait_for_group(api, api.post("/groups", json=body))
    elapsed = (time.perf_counter() - began) * 1000
    statuses = [a["status"] for a in group["attempts"]]
    assert statuses == ["succeeded"] * attempts, group
    starts = [parse_iso(a["job"]["started_at"]) for a in group["attempts"]]
    known = [s for s in starts if s is not None]
    assert len(known) == attempts, group
    spread = (max(known) - min(known)).total_seconds() * 1000
    return elapsed, spread


def cpu_seconds(pid: int) -> float:
    """CPU time of the server and of every process it has waited for (workers, and theirs:
    git, the sandbox, the agent), from /proc: utime, stime, cutime, cstime."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def measure(tmp: Path, runs: int, attempts: int) -> dict[str, Any]:
    repo = make_repo(tmp / "repo", {f"src/file{i}.py": f"x = {i}\n" * 50 for i in range(50)})
    srv = start_server(tmp, noop_config(attempts, verify=True))
    cores = os.cpu_count() or 1
    sizes = sorted({1, min(cores, attempts), attempts})
    times: dict[int, list[float]] = {size: [] for size in sizes}
    spreads: dict[int, list[float]] = {size: [] for size in sizes}
    cpu: list[float] = []
    assert srv.proc is not None
    try:
        token = srv.add_user("bench@example.com", tier="enterprise")
        with Api(srv.api_url, lambda refresh: token) as api:
            for size in sizes:  # warm up: first clone, first sandbox
                group_run(api, repo, size)
            for run in range(runs):
                for size in sizes if run % 2 == 0 else reversed(sizes):
                    before = cpu_seconds(srv.proc.pid)
                    wall, spread = group_run(api, repo, size)
                    times[size].append(wall)
                    spreads[size].append(spread)
                    cpu.append((cpu_seconds(srv.proc.pid) - before) / size)
    finally:
        srv.stop()
    per_attempt = statistics.median(cpu)
    one = statistics.median(times[1])
    rows = {}
    for size in sizes:
        median = statistics.median(times[size])
        floor = max(size * per_attempt / min(size, cores) * 1000, one) / one
        rows[str(size)] = {
            "wall_ms_median": round(median, 1),
            "wall_ms_all": [round(t, 1) for t in times[size]],
            "ratio": round(median / one, 3),
            "cpu_floor_ratio": round(floor, 3),
            "start_spread_ms_median": round(statistics.median(spreads[size]), 1),
        }
    return {
        "cores": cores,
        "capacity": attempts,
        "runs": runs,
        "cpu_s_per_attempt": round(per_attempt, 3),
        "groups": rows,
        "target_ratio": TARGET_RATIO,
        "target_attempts": attempts,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=8, help="runs of each group size")
    parser.add_argument("--attempts", type=int, default=4, help="attempts (and capacity)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        result = measure(Path(name), args.runs, args.attempts)
    print(
        f"{'no-op attempts':<16}{'median ms':>10}{'min ms':>9}{'max ms':>9}{'ratio':>8}"
        f"{'CPU floor':>11}{'start spread ms':>17}"
    )
    for size, row in result["groups"].items():
        every = row["wall_ms_all"]
        print(
            f"{size:<16}{row['wall_ms_median']:>10}{min(every):>9}{max(every):>9}"
            f"{row['ratio']:>7.2f}x{row['cpu_floor_ratio']:>10.2f}x"
            f"{row['start_spread_ms_median']:>17}"
        )
    print(
        f"CPU per attempt {result['cpu_s_per_attempt']} s (server, worker, git, sandbox) on "
        f"{result['cores']} cores"
    )
    group = result["groups"][str(args.attempts)]
    verdict = "ok" if group["ratio"] <= TARGET_RATIO else "OVER"
    print(
        f"{args.attempts} attempts take {group['ratio']:.2f}x one attempt's wall time "
        f"(target <= {TARGET_RATIO}x; CPU alone allows {group['cpu_floor_ratio']:.2f}x here; "
        f"capacity {args.attempts}, {args.runs} runs): {verdict}"
    )
    write_results("bench_groups", result)


if __name__ == "__main__":
    main()
