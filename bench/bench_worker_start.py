"""What starting a worker costs, paid once per job. Prints a table and writes
bench/results/bench_worker_start.json.

Each entry is started with no launch environment, so it imports everything a worker imports and
exits at once with its usage error (exit 2): the CPU time (user + system, from wait4) and wall
time of that start, and the import time `-X importtime` reports for the whole start. Entries:
`python -m ckrv.worker` (what executors run) and `python -m ckrv worker` (through the CLI), and
with --before DIR the same `python -m ckrv worker` of another checkout (e.g. main before this
change, with its own .venv), all alternated run by run so drift hits each alike.

Run: .venv/bin/python bench/bench_worker_start.py [--runs 20] [--before /tmp/lean-before]"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchkit import write_results  # noqa: E402


def entries(before: Path | None) -> dict[str, tuple[Path, list[str]]]:
    """name -> (checkout, argv after the interpreter)."""
    found = {
        "-m ckrv.worker": (ROOT, ["-m", "ckrv.worker"]),
        "-m ckrv worker": (ROOT, ["-m", "ckrv", "worker"]),
    }
    if before is not None:
        found["before: -m ckrv worker"] = (before, ["-m", "ckrv", "worker"])
    return found


def environment() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def start_once(checkout: Path, argv: list[str]) -> tuple[float, float, int, str]:
    """CPU seconds, wall seconds, exit code and the last stderr line of one start."""
    python = checkout / ".venv" / "bin" / "python"
    began = time.perf_counter()
    proc = subprocess.Popen(
        [str(python), *argv],
        cwd=checkout,
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    last = err.strip().splitlines()[-1] if err.strip() else ""
    return usage.ru_utime + usage.ru_stime, wall, proc.returncode, last


def import_ms(checkout: Path, argv: list[str]) -> float:
    """Milliseconds the start spends importing, as `-X importtime` reports it: the sum of the
    top-level imports' cumulative times (each module counted once)."""
    python = checkout / ".venv" / "bin" / "python"
    out = subprocess.run(
        [str(python), "-X", "importtime", *argv],
        cwd=checkout,
        env=environment(),
        capture_output=True,
        text=True,
    )
    total = 0
    for line in out.stderr.splitlines():
        parts = line.split("|")
        timed = line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit()
        if timed and not parts[2].startswith("  "):  # nested imports are indented further
            total += int(parts[1])
    return round(total / 1000, 1)


def measure(runs: int, before: Path | None) -> dict[str, dict[str, object]]:
    found = entries(before)
    cpu: dict[str, list[float]] = {name: [] for name in found}
    wall: dict[str, list[float]] = {name: [] for name in found}
    imports: dict[str, list[float]] = {name: [] for name in found}
    outcome: dict[str, tuple[int, str]] = {}
    for checkout, argv in found.values():
        start_once(checkout, argv)  # warm the page cache and any .pyc
    for _ in range(runs):
        for name, (checkout, argv) in found.items():
            used, took, code, last = start_once(checkout, argv)
            cpu[name].append(used)
            wall[name].append(took)
            outcome[name] = (code, last)
            imports[name].append(import_ms(checkout, argv))
    return {
        name: {
            "cpu_ms_median": round(statistics.median(cpu[name]) * 1000, 1),
            "cpu_ms_min": round(min(cpu[name]) * 1000, 1),
            "wall_ms_median": round(statistics.median(wall[name]) * 1000, 1),
            "import_ms_median": round(statistics.median(imports[name]), 1),
            "import_ms_min": round(min(imports[name]), 1),
            "exit_code": outcome[name][0],
            "stderr": outcome[name][1],
        }
        for name in found
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20, help="starts of each entry")
    parser.add_argument("--before", type=Path, help="another checkout (with .venv) to compare")
    args = parser.parse_args()
    result = measure(args.runs, args.before)
    head = (
        f"{'worker start':<26}{'CPU ms':>8}{'(min)':>8}{'wall ms':>9}{'imports ms':>12}{'(min)':>8}"
    )
    print(head + "  exit")
    for name, row in result.items():
        print(
            f"{name:<26}{row['cpu_ms_median']:>8}{row['cpu_ms_min']:>8}{row['wall_ms_median']:>9}"
            f"{row['import_ms_median']:>12}{row['import_ms_min']:>8}  {row['exit_code']}"
        )
    write_results("bench_worker_start", {"runs": args.runs, "entries": result})


if __name__ == "__main__":
    main()
