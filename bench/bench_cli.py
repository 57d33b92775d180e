"""CLI start-up benchmarks. Prints a table and writes bench/results/bench_cli.json.

Whole-process wall time, each pair interleaved run by run so machine noise hits both sides:
1. `ckrv status JOB` (8-character prefix; token from CKRV_TOKEN, and from the file token store)
   vs a bare `python -c` doing the same HTTP GET with httpx. Target: at most 1.5x.
2. `ckrv --help` vs `python -c "import click"`. Target: at most 1.3x.
Also lists any heavy module (kubernetes, uvicorn, starlette, jinja2, argon2, cryptography,
keyring) that `ckrv status` imports, from `python -X importtime`.

Run: .venv/bin/python bench/bench_cli.py [--runs 30]"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.helpers import PYTHON, Server, base_env, make_repo, wait_for  # noqa: E402
from tests.support.servers import write_config  # noqa: E402

HEAVY = ("kubernetes", "uvicorn", "starlette", "jinja2", "argon2", "cryptography", "keyring")
BARE_GET = (
    "import os, httpx\n"
    "r = httpx.get(os.environ['URL'], headers={'Authorization': 'Bearer ' + os.environ['CKRV_TOKEN']})\n"
    "r.raise_for_status()\n"
    "print(r.json()['status'])\n"
)


def ckrv_command() -> list[str]:
    script = Path(PYTHON).parent / "ckrv"
    return [str(script)] if script.exists() else [PYTHON, "-m", "ckrv"]


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{argv} failed: {result.stderr.decode()}")
    return elapsed


def compare(
    name: str,
    ours: tuple[list[str], dict[str, str]],
    base: tuple[list[str], dict[str, str]],
    runs: int,
    target: float,
) -> dict[str, object]:
    timed(*ours), timed(*base)  # warm the page cache and .pyc files
    mine, theirs = [], []
    for _ in range(runs):
        mine.append(timed(*ours))
        theirs.append(timed(*base))
    ratio = statistics.median(mine) / statistics.median(theirs)
    return {
        "name": name,
        "runs": runs,
        "ckrv_median_ms": round(statistics.median(mine) * 1000, 1),
        "baseline_median_ms": round(statistics.median(theirs) * 1000, 1),
        "ckrv_min_ms": round(min(mine) * 1000, 1),
        "baseline_min_ms": round(min(theirs) * 1000, 1),
        "ratio": round(ratio, 3),
        "target": target,
        "ok": ratio <= target,
    }


def heavy_imports(ckrv_args: list[str], env: dict[str, str]) -> list[str]:
    """Top-level packages from HEAVY that `ckrv ARGS` imports."""
    argv = [PYTHON, "-X", "importtime", "-m", "ckrv", *ckrv_args]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT)
    found = set()
    for line in result.stderr.splitlines():
        module = line.rsplit("|", 1)[-1].strip()
        if module.split(".")[0] in HEAVY:
            found.add(module.split(".")[0])
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ckrv-bench-cli-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "server-config").mkdir()
        server = Server(
            data_dir=tmp / "data", config_dir=tmp / "server-config", config=write_config(tmp)
        ).start()
        try:
            results = run_benchmarks(server, tmp, args.runs)
        finally:
            server.stop()
    print_table(results)
    out = ROOT / "bench" / "results" / "bench_cli.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


def run_benchmarks(server: Server, tmp: Path, runs: int) -> dict[str, object]:
    token = server.add_user("bench@example.com", tier="enterprise")
    repo = make_repo(tmp / "repo")
    with server.client(token) as client:
        job = client.post(
            "/jobs", json={"spec_content": "# Bench\nprint hi\n", "git_repo_url": str(repo)}
        ).json()
        wait_for(
            lambda: client.get(f"/jobs/{job['id']}").json()["status"] == "succeeded",
            timeout=60,
            what="the bench job to succeed",
        )

    env_token = {
        **base_env(tmp / "cli-config"),
        "CHAKRAVARTI_API_URL": server.api_url,
        "CKRV_TOKEN": token,
    }
    env_token.pop("PYTHONPATH", None)  # the installed package, as a user runs it
    stored = stored_token_env(tmp / "stored-config", server.api_url, token, env_token)
    bare = ([PYTHON, "-c", BARE_GET], {**env_token, "URL": f"{server.api_url}/jobs/{job['id']}"})
    ckrv = ckrv_command()
    status = [*ckrv, "status", job["id"][:8]]
    rows = [
        compare(
            "ckrv status JOB (CKRV_TOKEN) vs python -c httpx.get",
            (status, env_token),
            bare,
            runs,
            1.5,
        ),
        compare(
            "ckrv status JOB (stored token) vs python -c httpx.get",
            (status, stored),
            bare,
            runs,
            1.5,
        ),
        compare(
            "ckrv --help vs python -c 'import click'",
            ([*ckrv, "--help"], env_token),
            ([PYTHON, "-c", "import click"], env_token),
            runs,
            1.3,
        ),
    ]
    return {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "comparisons": rows,
        "heavy_imports_in_status": heavy_imports(status[len(ckrv) :], stored),
        "heavy_imports_in_help": heavy_imports(["--help"], env_token),
    }


def stored_token_env(config: Path, api_url: str, token: str, env: dict[str, str]) -> dict[str, str]:
    """A config dir whose file token store holds `token` (as `ckrv cloud login` leaves it where
    no OS keyring works), and an environment without CKRV_TOKEN."""
    config.mkdir(mode=0o700)
    (config / "token-store-is-file").write_text("bench\n")
    tokens = {
        api_url: {"access_token": token, "refresh_token": "", "expires_at": time.time() + 86400}
    }
    path = config / "tokens.json"
    path.write_text(json.dumps(tokens))
    path.chmod(0o600)
    stored = {k: v for k, v in env.items() if k != "CKRV_TOKEN"}
    stored["CKRV_CONFIG_DIR"] = str(config)
    return stored


def print_table(results: dict[str, object]) -> None:
    rows = results["comparisons"]
    assert isinstance(rows, list)
    print(f"{'comparison':<56} {'ckrv ms':>8} {'base ms':>8} {'ratio':>6} {'target':>6}")
    for row in rows:
        mark = "ok" if row["ok"] else "MISS"
        print(
            f"{row['name']:<56} {row['ckrv_median_ms']:>8} {row['baseline_median_ms']:>8} "
            f"{row['ratio']:>6} {row['target']:>5}x {mark}"
        )
    print(f"heavy imports in `ckrv status`: {results['heavy_imports_in_status'] or 'none'}")
    print(f"heavy imports in `ckrv --help`: {results['heavy_imports_in_help'] or 'none'}")


if __name__ == "__main__":
    main()
