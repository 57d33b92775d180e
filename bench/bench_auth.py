"""Auth benchmarks. Prints a table and writes bench/results/bench_auth.json.

1. `ckrv cloud whoami`, the whole process, against a running server, versus a bare
   `python -c "import httpx; httpx.get(URL, headers=...)"` making the same request; runs
   interleaved, medians compared (target: at most 1.5x). Twice: with CKRV_TOKEN (an API token)
   and with the login `ckrv cloud login` stored in the token file (a JWT access token).
2. GET /v1/users/me requests per second versus a bare Starlette route returning the same JSON
   on the same uvicorn settings (bench/bare_server.py), interleaved rounds in one run with one
   load generator (bench/loadgen.py) (target: at least 0.6x). With a JWT and an API token.
   Also each server's CPU time per request (from /proc): on a shared, noisy machine the rps
   of two servers swing with whatever else runs, their CPU cost per request much less.

Run: .venv/bin/python bench/bench_auth.py [--runs 25] [--seconds 3] [--rounds 3]"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadgen import build, run  # noqa: E402
from tests.support.helpers import PYTHON, Cli, Server  # noqa: E402

EMAIL = "bench@example.com"
CKRV = str(Path(PYTHON).parent / "ckrv")  # the console script a user runs


def start_server(tmp: Path) -> Server:
    config = tmp / "ckrv.toml"
    config.write_text("[server]\ndevice_poll_interval = 1\n")
    (tmp / "server-config").mkdir()
    srv = Server(data_dir=tmp / "data", config_dir=tmp / "server-config", config=config)
    return srv.start()


def start_bare(body: dict[str, object]) -> tuple[subprocess.Popen[str], int]:
    script = str(ROOT / "bench" / "bare_server.py")
    proc = subprocess.Popen(
        [PYTHON, script, "serve", json.dumps(body)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
    assert match, line
    return proc, int(match.group(1))


def cli_login(srv: Server, cli: Cli) -> None:
    """A real `ckrv cloud login --no-browser`, approved from the server's shell."""
    proc = subprocess.Popen(
        [CKRV, "cloud", "login", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=cli.env(),
    )
    assert proc.stdout is not None
    code = re.search(r"enter the code ([A-Z]{4}-[A-Z]{4})", proc.stdout.readline())
    assert code, "no user code printed"
    srv.admin("device", "approve", code.group(1), "--email", EMAIL)
    proc.stdout.read()
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0, "login failed"


def access_token(srv: Server, cli: Cli) -> str:
    tokens = json.loads((cli.config_dir / "tokens.json").read_text())
    return str(tokens[srv.api_url]["access_token"])


def timed(argv: list[str], env: dict[str, str], cwd: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed: {result.stderr}")
    return elapsed


def process_bench(srv: Server, cli: Cli, api_token: str, runs: int) -> dict[str, dict[str, float]]:
    """Median wall time of whole processes, the variants interleaved run by run."""
    url = f"{srv.api_url}/users/me"
    jwt = access_token(srv, cli)
    cwd = tempfile.mkdtemp(prefix="ckrv-bench-cwd-")  # nothing importable from the checkout
    plain = {k: v for k, v in cli.env().items() if k != "PYTHONPATH"}
    bare_code = "import httpx, sys; httpx.get(sys.argv[1], headers={'Authorization': sys.argv[2]})"
    variants = {
        "bare httpx.get (API token)": (
            [PYTHON, "-c", bare_code, url, f"Bearer {api_token}"],
            plain,
        ),
        "ckrv cloud whoami (CKRV_TOKEN)": (
            [CKRV, "cloud", "whoami"],
            {**plain, "CKRV_TOKEN": api_token},
        ),
        "bare httpx.get (JWT)": ([PYTHON, "-c", bare_code, url, f"Bearer {jwt}"], plain),
        "ckrv cloud whoami (token file)": ([CKRV, "cloud", "whoami"], plain),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for argv, env in variants.values():  # warm the page cache
        timed(argv, env, cwd)
    for _ in range(runs):
        for name, (argv, env) in variants.items():
            samples[name].append(timed(argv, env, cwd))
    return {
        name: {
            "median_ms": round(statistics.median(values) * 1000, 1),
            "min_ms": round(min(values) * 1000, 1),
        }
        for name, values in samples.items()
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def always(request: bytes) -> Callable[[int], bytes]:
    return lambda _n: request


def rps_bench(
    srv: Server, bare: tuple[int, int], tokens: dict[str, str], seconds: float, rounds: int
) -> dict[str, dict[str, float]]:
    """Requests per second, and the server's CPU time per request: on a shared machine the
    second is the steadier measure of the server's own cost."""
    host = "127.0.0.1"
    assert srv.proc is not None
    bare_pid, bare_port = bare
    targets = {"GET bare Starlette route": (bare_pid, bare_port, build("GET", "/bare", host))}
    for kind, token in tokens.items():
        auth = {"Authorization": f"Bearer {token}"}
        request = build("GET", "/v1/users/me", host, auth)
        targets[f"GET /v1/users/me ({kind})"] = (srv.proc.pid, srv.port, request)
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for _pid, port, request in targets.values():  # warm-up
        run(host, port, always(request), concurrency=32, duration=0.5)
    for _ in range(rounds):
        for name, (pid, port, request) in targets.items():
            cpu_before = cpu_seconds(pid)
            result = run(host, port, always(request), concurrency=32, duration=seconds)
            cpu_us = (cpu_seconds(pid) - cpu_before) / result.requests * 1e6
            assert set(result.statuses) == {200}, (name, result.statuses)
            rows[name].append({**result.row(), "cpu_us": cpu_us})
    return {
        name: {
            key: round(statistics.median(r[key] for r in runs), 2)
            for key in ("rps", "p50_ms", "p99_ms", "cpu_us")
        }
        for name, runs in rows.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=25, help="process runs per variant")
    parser.add_argument("--seconds", type=float, default=3.0, help="load per target per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved load rounds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ckrv-bench-auth-") as tmp_name:
        tmp = Path(tmp_name)
        srv = start_server(tmp)
        bare = None
        try:
            api_token = srv.add_user(EMAIL)
            cli = Cli(config_dir=tmp / "cli-config", api_url=srv.api_url)
            cli_login(srv, cli)
            with srv.client(api_token) as api:
                profile = api.get("/users/me").json()
            bare, bare_port = start_bare(profile)

            processes = process_bench(srv, cli, api_token, args.runs)
            tokens = {"JWT": access_token(srv, cli), "API token": api_token}
            load = rps_bench(srv, (bare.pid, bare_port), tokens, args.seconds, args.rounds)
        finally:
            if bare is not None:
                bare.terminate()
                bare.wait()
                if bare.stdout is not None:
                    bare.stdout.close()
            srv.stop()

    ratios = {
        "whoami/bare (CKRV_TOKEN)": processes["ckrv cloud whoami (CKRV_TOKEN)"]["median_ms"]
        / processes["bare httpx.get (API token)"]["median_ms"],
        "whoami/bare (token file)": processes["ckrv cloud whoami (token file)"]["median_ms"]
        / processes["bare httpx.get (JWT)"]["median_ms"],
        "users/me/bare rps (JWT)": load["GET /v1/users/me (JWT)"]["rps"]
        / load["GET bare Starlette route"]["rps"],
        "users/me/bare rps (API token)": load["GET /v1/users/me (API token)"]["rps"]
        / load["GET bare Starlette route"]["rps"],
        "bare/users/me CPU per request (JWT)": load["GET bare Starlette route"]["cpu_us"]
        / load["GET /v1/users/me (JWT)"]["cpu_us"],
        "bare/users/me CPU per request (API token)": load["GET bare Starlette route"]["cpu_us"]
        / load["GET /v1/users/me (API token)"]["cpu_us"],
    }
    targets = {
        "whoami/bare (CKRV_TOKEN)": ("<=", 1.5),
        "whoami/bare (token file)": ("<=", 1.5),
        "users/me/bare rps (JWT)": (">=", 0.6),
        "users/me/bare rps (API token)": (">=", 0.6),
        "bare/users/me CPU per request (JWT)": (">=", 0.6),
        "bare/users/me CPU per request (API token)": (">=", 0.6),
    }

    print(f"\nwhole processes, {args.runs} interleaved runs each (cpus: {os.cpu_count()})")
    print(f"{'variant':<34}{'median ms':>11}{'min ms':>9}")
    for name, row in processes.items():
        print(f"{name:<34}{row['median_ms']:>11.1f}{row['min_ms']:>9.1f}")
    print(f"\nGET load, 32 connections, {args.rounds} x {args.seconds:g}s rounds interleaved")
    print(f"{'target':<34}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/req':>12}")
    for name, row in load.items():
        print(
            f"{name:<34}{row['rps']:>9.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
            f"{row['cpu_us']:>12.1f}"
        )
    print(f"\n{'ratio':<42}{'value':>7}  target")
    verdicts = {}
    for name, value in ratios.items():
        op, bound = targets[name]
        met = value <= bound if op == "<=" else value >= bound
        verdicts[name] = met
        print(f"{name:<42}{value:>7.2f}  {op} {bound}  {'met' if met else 'MISSED'}")

    out = ROOT / "bench" / "results" / "bench_auth.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "processes": processes,
        "load": load,
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "targets_met": verdicts,
        "settings": vars(args),
    }
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
