"""What masking costs, and what one user's masking costs everybody else. Prints two tables and
writes bench/results/bench_masking.json.

1. Throughput: lines per second through `Masker.mask` with about 10 and about 1,000 secret
   forms, on ordinary build-log lines and on hex-heavy lines (digests, the worst case for the
   aligned-window pre-check: hex characters are base64 characters), for three matchers side by
   side: the regex alternation of the version before (read from git, `--before`), the standard
   library's Aho-Corasick automaton (the worker's) and ahocorasick-rs's (the server's).
2. Isolation: a second user's latency (p50/p95/max of GET /healthz and GET /v1/jobs, due
   every 20 ms, each timed from when it was due) while the first user's stand-in worker floods a real `ckrv serve`
   with hex-heavy batches, the first user having secrets of about 1,000 forms (2048-bit RSA
   keys, multi-line: about 40 KiB, within the default cap of 64 KiB). Run against this tree ("after") and against a git worktree of `--before`
   ("before"), the same flood each time, `--repeat` times. Target: p95 under 50 ms.

Run: .venv/bin/python bench/bench_masking.py [--quick] [--before REV] [--repeat N]
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from ckrv.contracts.masking import AhoCorasick, Masker  # noqa: E402
from ckrv.server.logs.matcher import server_matcher  # noqa: E402
from tests.support import helpers  # noqa: E402
from tests.support.helpers import Server, make_repo  # noqa: E402
from tests.support.jobhelpers import submit  # noqa: E402

INTERVAL = 0.02  # the second user's requests: 50 a second
# The last commit of main before masking moved off the loop and onto an automaton.
BEFORE = "71a7d5c"
CONFIG = """
[server]
allow_local_repositories = true
max_concurrent_jobs = 0
default_agent = "held"
[agents.held]
command = ["{python}", "-c", "pass"]
"""


def rsa_key() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(path)], check=True
        )
        return path.read_text()


def old_masker_class(rev: str) -> Any:
    """The Masker of `rev`, loaded from git without checking it out."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:ckrv/contracts/masking.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_masking.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_masking", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Masker


def plain_lines(count: int, values: list[str]) -> list[str]:
    lines = []
    for i in range(count):
        line = f"[{i:06d}] compiling module_{i % 97}.py ... ok ({i % 13} warnings) " + "x" * 30
        if values and i % 50 == 0:
            line += f" token={values[i % len(values)].splitlines()[0]}"
        lines.append(line)
    return lines


def hex_lines(count: int, width: int = 16) -> list[str]:
    return [" ".join(secrets.token_hex(32) for _ in range(width)) for _ in range(count)]


def rate(fn: Callable[[str], str], lines: list[str], budget: float) -> float:
    """Lines per second, best of up to three runs (each stops early past `budget` seconds)."""
    best = 0.0
    for _ in range(3):
        start, done = time.perf_counter(), 0
        for line in lines:
            fn(line)
            done += 1
            if done % 64 == 0 and time.perf_counter() - start > budget:
                break
        best = max(best, done / (time.perf_counter() - start))
    return best


def secrets_with_forms(wanted: int, keys: list[str]) -> list[str]:
    """Secrets (keys first, then tokens) until their forms number at least `wanted`."""
    values: list[str] = []
    pool = iter(keys)
    while len(Masker(values).forms) < wanted:
        key = next(pool, None)
        fits = key is not None and len(Masker([*values, key]).forms) <= wanted * 1.1
        values.append(key if key is not None and fits else f"tok_{secrets.token_urlsafe(24)}")
    return values


def throughput(quick: bool, old_masker: Any, keys: list[str]) -> list[dict[str, Any]]:
    cases = {"10 forms": secrets_with_forms(10, []), "1,000 forms": secrets_with_forms(1000, keys)}
    count = 2_000 if quick else 10_000
    kinds = {"plain": plain_lines(count, cases["1,000 forms"]), "hex": hex_lines(count // 10)}
    matchers = {
        "regex (before)": lambda values: old_masker(values),
        "stdlib automaton (worker)": lambda values: Masker(values, AhoCorasick),
        "ahocorasick-rs (server)": lambda values: Masker(values, server_matcher),
    }
    rows = []
    print(f"\n{'secret forms':<14}{'lines':<7}{'matcher':<28}{'forms':>7}{'lines/s':>12}")
    for case, values in cases.items():
        for kind, lines in kinds.items():
            for name, build in matchers.items():
                masker = build(values)
                per_second = rate(masker.mask, lines, 1.0 if quick else 3.0)
                row = {"case": case, "lines": kind, "matcher": name, "forms": len(masker.forms)}
                rows.append({**row, "lines_per_s": per_second})
                print(f"{case:<14}{kind:<7}{name:<28}{len(masker.forms):>7}{per_second:>12,.0f}")
    return rows


@contextmanager
def old_tree(rev: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp()) / "before"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(path), rev], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)])


@contextmanager
def server_of(tree: Path, tmp: Path) -> Iterator[Server]:
    """`ckrv serve` from `tree` (python -m puts the working directory first on sys.path)."""
    (tmp / "config").mkdir(parents=True)
    config = tmp / "ckrv.toml"
    config.write_text(CONFIG.format(python=sys.executable))
    saved, helpers.ROOT = helpers.ROOT, tree
    try:
        srv = Server(data_dir=tmp / "data", config_dir=tmp / "config", config=config).start()
    finally:
        helpers.ROOT = saved
    try:
        yield srv
    finally:
        srv.shutdown()


_HOLD = """import sys, types
from pathlib import Path
from tests.support.jobhelpers import hold_for_a_worker
server = types.SimpleNamespace(data_dir=Path(sys.argv[1]), url=sys.argv[2])
print(hold_for_a_worker(server, sys.argv[3]))
"""


def hold(tree: Path, srv: Server, job_id: str) -> str:
    """A worker token for the job, dispatched by `tree`'s own code (job ids differ by version)."""
    args = [sys.executable, "-c", _HOLD, str(srv.data_dir), srv.url, job_id]
    return subprocess.run(args, cwd=tree, capture_output=True, text=True, check=True).stdout.strip()


def flood(srv: Server, token: str, job_id: str, batches: int, lines: list[str]) -> None:
    """`batches` batches of `lines`, from two keep-alive connections at once."""
    headers = {"Authorization": f"Bearer {token}"}
    counter = iter(range(batches))
    lock = threading.Lock()

    def post() -> None:
        with httpx.Client(base_url=srv.api_url, headers=headers, timeout=600) as worker:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                entries = [
                    {
                        "seq": index * len(lines) + i + 1,
                        "timestamp": "2026-01-01T00:00:00Z",
                        "message": line,
                    }
                    for i, line in enumerate(lines)
                ]
                sent = worker.post(f"/worker/jobs/{job_id}/logs", json={"entries": entries})
                assert sent.status_code == 200, sent.text

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def latency_during_flood(
    tree: Path, keys: list[str], batches: int, lines: list[str]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, server_of(tree, Path(tmp)) as srv:
        with srv.client(srv.add_user("flood@example.com", tier="pro")) as flooder:
            for i, value in enumerate(secrets_with_forms(1000, keys)):
                put = flooder.put(f"/secrets/SECRET_{i}", json={"value": value})
                assert put.status_code == 201, put.text
            job_id = submit(flooder, "hold\n", make_repo(Path(tmp) / "repo"))["id"]
        worker_token = hold(tree, srv, job_id)
        samples: dict[str, list[float]] = {"/healthz": [], "/v1/jobs": []}
        done = threading.Event()
        stopped = [float("inf")]  # when the flood ended
        with srv.client(srv.add_user("other@example.com", tier="pro")) as other:

            def poll() -> None:
                """A request every INTERVAL, each timed from when it was due: one held up
                by a busy loop makes the ones due meanwhile late too (no coordinated
                omission)."""
                due, paths = time.perf_counter(), itertools.cycle(list(samples))
                while not done.is_set() or due < stopped[0]:  # the ones due before the end too
                    wait = due - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    path = next(paths)
                    other.get(f"{srv.url}{path}").raise_for_status()
                    samples[path].append(time.perf_counter() - due)
                    due += INTERVAL

            poller = threading.Thread(target=poll)
            poller.start()
            started = time.perf_counter()
            try:
                flood(srv, worker_token, job_id, batches, lines)
            finally:
                stopped[0] = time.perf_counter()
                done.set()
                poller.join()
            elapsed = time.perf_counter() - started
    everything = sorted(s for values in samples.values() for s in values)
    return {
        "flood_seconds": elapsed,
        "flood_lines_per_s": batches * len(lines) / elapsed,
        "requests": len(everything),
        "p50_ms": 1000 * statistics.median(everything),
        "p95_ms": 1000 * everything[int(0.95 * (len(everything) - 1))],
        "max_ms": 1000 * everything[-1],
    }


def isolation(quick: bool, rev: str, keys: list[str], repeat: int) -> list[dict[str, Any]]:
    batches, lines = (4, hex_lines(250, 8)) if quick else (40, hex_lines(500, 8))
    rows = []
    print(
        f"\nsecond user's latency during a flood of {batches} x {len(lines)} hex-heavy lines"
        f"\n{'server':<9}{'run':>4}{'flood s':>9}{'lines/s':>10}{'requests':>10}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
    )
    with old_tree(rev) as before:
        for run in range(1, repeat + 1):
            for name, tree in (("before", before), ("after", ROOT)):
                row = {
                    "server": name,
                    "run": run,
                    **latency_during_flood(tree, keys, batches, lines),
                }
                rows.append(row)
                print(
                    f"{name:<9}{run:>4}{row['flood_seconds']:>9.1f}{row['flood_lines_per_s']:>10,.0f}"
                    f"{row['requests']:>10}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}"
                    f"{row['max_ms']:>9.1f}"
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--before", default=BEFORE, help="the git revision to compare with")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    keys = [rsa_key() for _ in range(32)]
    results = {
        "before": args.before,
        "throughput": throughput(args.quick, old_masker_class(args.before), keys),
        "isolation": isolation(args.quick, args.before, keys, args.repeat),
    }
    out = ROOT / "bench" / "results" / "bench_masking.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
