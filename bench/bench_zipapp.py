"""The one-file build. Prints a table and writes bench/results/bench_zipapp.json.

1. Size of ckrv.pyz, and its first run (unpack into a fresh SHIV_ROOT and compile) once.
2. `python ckrv.pyz --version` after its first run vs the installed `ckrv --version`, the same
   interpreter, interleaved run by run so machine noise hits both sides. Target: at most 1.5x.
   Also the file on a bare Python (a venv with nothing installed), for reference.
3. `ckrv demo` wall time, installed and from the file.

Run: .venv/bin/python bench/bench_zipapp.py [--runs 30] [--demo-runs 3] [--pyz dist/ckrv.pyz]
(builds the file with scripts/build-zipapp.sh when it does not exist)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def timed(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, cwd=cwd)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{argv} failed: {result.stderr.decode()}")
    return elapsed


def installed_ckrv() -> list[str]:
    script = Path(PYTHON).parent / "ckrv"
    if not script.exists():
        raise SystemExit(f"no installed ckrv next to {PYTHON}: pip install -e . first")
    return [str(script)]


def build(pyz: Path) -> None:
    print(f"building {pyz} ...", flush=True)
    env = {**os.environ, "PYTHON": PYTHON}
    subprocess.run([str(ROOT / "scripts" / "build-zipapp.sh"), str(pyz)], env=env, check=True)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def startup(pyz: Path, env: dict[str, str], bare: Path, runs: int) -> dict[str, object]:
    ours, base, on_bare = (
        [*map(str, (PYTHON, pyz)), "--version"],
        [*installed_ckrv(), "--version"],
        [
            str(bare),
            str(pyz),
            "--version",
        ],
    )
    for argv in (ours, base, on_bare):
        timed(argv, env)  # warm the page cache
    mine, theirs, bare_runs = [], [], []
    for _ in range(runs):
        mine.append(timed(ours, env))
        theirs.append(timed(base, env))
        bare_runs.append(timed(on_bare, env))
    ratio = statistics.median(mine) / statistics.median(theirs)
    return {
        "runs": runs,
        "pyz_median_ms": ms(statistics.median(mine)),
        "installed_median_ms": ms(statistics.median(theirs)),
        "pyz_on_bare_python_median_ms": ms(statistics.median(bare_runs)),
        "pyz_min_ms": ms(min(mine)),
        "installed_min_ms": ms(min(theirs)),
        "ratio": round(ratio, 3),
        "target": 1.5,
        "ok": ratio <= 1.5,
    }


def demo_times(argv: list[str], env: dict[str, str], runs: int, tmp: Path) -> list[float]:
    return [timed([*argv, "demo"], env, cwd=tmp) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--demo-runs", type=int, default=3)
    parser.add_argument("--pyz", type=Path, default=ROOT / "dist" / "ckrv.pyz")
    args = parser.parse_args()
    pyz = args.pyz.resolve()
    if not pyz.exists():
        build(pyz)
    with tempfile.TemporaryDirectory(prefix="ckrv-bench-zipapp-") as tmp_name:
        tmp = Path(tmp_name)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CKRV_", "CHAKRAVARTI_"))}
        env.update(SHIV_ROOT=str(tmp / "shiv"), NO_COLOR="1")
        venv.EnvBuilder(with_pip=False).create(tmp / "bare")
        bare = tmp / "bare" / "bin" / "python"
        first = timed([PYTHON, str(pyz), "--version"], env)
        unpacked = sum(f.stat().st_size for f in (tmp / "shiv").rglob("*") if f.is_file())
        results: dict[str, object] = {
            "pyz": str(pyz),
            "size_bytes": pyz.stat().st_size,
            "first_run_ms": ms(first),
            "unpacked_bytes": unpacked,
            "version": startup(pyz, env, bare, args.runs),
        }
        installed = demo_times(installed_ckrv(), env, args.demo_runs, tmp)
        from_file = demo_times([PYTHON, str(pyz)], env, args.demo_runs, tmp)
        results["demo"] = {
            "runs": args.demo_runs,
            "installed_median_s": round(statistics.median(installed), 2),
            "installed_max_s": round(max(installed), 2),
            "pyz_median_s": round(statistics.median(from_file), 2),
            "pyz_max_s": round(max(from_file), 2),
        }
    print_table(results)
    out = ROOT / "bench" / "results" / "bench_zipapp.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


def print_table(results: dict[str, object]) -> None:
    version = results["version"]
    demo = results["demo"]
    assert isinstance(version, dict) and isinstance(demo, dict)
    size = int(str(results["size_bytes"])) / 2**20
    unpacked = int(str(results["unpacked_bytes"])) / 2**20
    rows = [
        ("ckrv.pyz size", f"{size:.1f} MiB", f"unpacked: {unpacked:.0f} MiB"),
        ("first run (unpack + compile)", f"{results['first_run_ms']:.0f} ms", "once per build"),
        (
            "pyz --version (median)",
            f"{version['pyz_median_ms']} ms",
            f"installed ckrv --version: {version['installed_median_ms']} ms",
        ),
        ("ratio (target <= 1.5x)", f"{version['ratio']}x", "ok" if version["ok"] else "MISSED"),
        (
            "pyz --version, bare Python",
            f"{version['pyz_on_bare_python_median_ms']} ms",
            "no site-packages at all",
        ),
        (
            "ckrv demo, installed (median)",
            f"{demo['installed_median_s']} s",
            f"max {demo['installed_max_s']} s",
        ),
        ("ckrv demo, from ckrv.pyz", f"{demo['pyz_median_s']} s", f"max {demo['pyz_max_s']} s"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")


if __name__ == "__main__":
    main()
