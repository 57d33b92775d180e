"""Request-body deadline benchmarks. Prints a table and writes bench/results/bench_bodies.json.

1. Cost: POST with a 1 KiB JSON body to a bare Starlette route, served by uvicorn's own
   httptools protocol and by ckrv's (server/connections.py: head and body deadlines, the
   connection cap), interleaved, 16 clients: the server's CPU time per request (its rps on a
   shared 2-core machine swings 30% between runs; CPU per request moves less), the median of
   4 rounds. Target: ckrv's at most 10 us more (about 8% of this bare route's, and well under
   1% of a POST /v1/jobs).
2. Slow bodies: a `ckrv serve` holding 50 connections (`body_timeout` 2 s, `body_min_rate`
   1 KiB) is filled with 50 clients trickling a body a byte a second; how long until
   `/healthz` answers 200 again (each trickler is answered 408 at its deadline and closed),
   and how many tricklers were still open 5 s after the deadline. Target: back within
   body_timeout + 1 s, none left.

Run: .venv/bin/python bench/bench_bodies.py [--seconds 4]"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchkit import start_server, write_results  # noqa: E402
from bench.loadgen import build, run  # noqa: E402

PYTHON = sys.executable
ROUNDS = 4
TRICKLERS = 50
BODY_TIMEOUT = 2.0


def serve_bare(protocol: str) -> None:
    """The bare POST route on uvicorn with `protocol` (stock or ckrv); prints its port."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from ckrv.server.connections import guarded_protocol
    from ckrv.server.serving import bind, tune_gc

    async def post(request: Request) -> JSONResponse:
        await request.json()
        return JSONResponse({"ok": True}, status_code=201)

    app = Starlette(routes=[Route("/bare", post, methods=["POST"])])
    http: object = "httptools"
    if protocol == "ckrv":
        http = guarded_protocol(10.0, 4096, 30.0, 16 * 1024)  # the defaults
    sock = bind("127.0.0.1", 0)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", http=http)
    tune_gc()
    uvicorn.Server(config).run(sockets=[sock])


def start_bare(protocol: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [PYTHON, __file__, "serve", protocol], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cost(seconds: float) -> dict[str, object]:
    body = json.dumps({"spec_content": "x" * 1000, "git_repo_url": "https://h/r.git"}).encode()
    request = build("POST", "/bare", "h", {"Content-Type": "application/json"}, body)
    servers = {name: start_bare(name) for name in ("stock", "ckrv")}
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in servers}
    try:
        for _proc, port in servers.values():
            run("127.0.0.1", port, lambda n: request, 8, 0.5)  # warm up
        for turn in range(ROUNDS):  # interleaved, each first in turn: drift hits both
            for name in sorted(servers, reverse=bool(turn % 2)):
                proc, port = servers[name]
                before = _cpu_seconds(proc.pid)
                result = run("127.0.0.1", port, lambda n: request, 16, seconds / ROUNDS)
                used = _cpu_seconds(proc.pid) - before
                samples[name].append((used / result.requests * 1e6, result.rps, result.pct(0.99)))
    finally:
        for proc, _port in servers.values():
            proc.terminate()
            proc.wait()
    rows = {
        name: {
            "cpu_us_per_request": round(statistics.median(s[0] for s in got), 1),
            "rps": round(statistics.median(s[1] for s in got), 1),
            "p99_ms": round(statistics.median(s[2] for s in got), 2),
        }
        for name, got in samples.items()
    }
    ckrv, stock = rows["ckrv"]["cpu_us_per_request"], rows["stock"]["cpu_us_per_request"]
    return {
        "rows": rows,
        "cpu_ratio": round(ckrv / stock, 3),
        "cpu_extra_us": round(ckrv - stock, 1),
    }


def _healthz(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        head = sock.recv(65536)
    return int(head.split(b" ", 2)[1]) if head else 0


def slow_bodies(tmp: Path) -> dict[str, object]:
    config = (
        f'[server]\nmax_connections = {TRICKLERS}\nbody_timeout = "{BODY_TIMEOUT:g}s"\n'
        'body_min_rate = "1K"\n'
    )
    srv = start_server(tmp, config, name="slow")
    head = (
        b"POST /v1/auth/device HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n{"
    )
    tricklers = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(TRICKLERS)]
    try:
        for sock in tricklers:
            sock.sendall(head)
        started = time.monotonic()
        refused_during = _healthz(srv.port)  # every connection is busy: 503
        recovered = None
        while time.monotonic() - started < BODY_TIMEOUT + 10:
            for sock in tricklers:
                with contextlib.suppress(OSError):  # cut off
                    sock.sendall(b" ")
            if _healthz(srv.port) == 200:
                recovered = round(time.monotonic() - started, 2)
                break
            time.sleep(0.2)
        time.sleep(5)
        left = 0
        for sock in tricklers:
            try:
                sock.sendall(b" ")
                sock.sendall(b" ")
                left += 1 if sock.recv(1, socket.MSG_DONTWAIT) else 0
            except BlockingIOError:
                left += 1  # still open, nothing to read
            except OSError:
                pass
    finally:
        for sock in tricklers:
            sock.close()
        srv.stop()
    return {
        "tricklers": TRICKLERS,
        "body_timeout_s": BODY_TIMEOUT,
        "healthz_while_full": refused_during,
        "healthz_200_after_s": recovered,
        "tricklers_open_5s_later": left,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0, help="load time per case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result: dict[str, Any] = {
            "cost": cost(args.seconds),
            "slow_bodies": slow_bodies(Path(tmp)),
        }
    print(f"{'case':<30}{'CPU us/req':>12}{'rps':>10}{'p99 ms':>10}")
    for name, row in result["cost"]["rows"].items():
        label = f"POST 1 KiB, {name} protocol"
        print(f"{label:<30}{row['cpu_us_per_request']:>12}{row['rps']:>10}{row['p99_ms']:>10}")
    extra, ratio = result["cost"]["cpu_extra_us"], result["cost"]["cpu_ratio"]
    print(f"ckrv's protocol costs {extra} us more per request ({ratio}x; target <= 10 us)")
    slow = result["slow_bodies"]
    print(
        f"{slow['tricklers']} tricklers filling the server (body_timeout {BODY_TIMEOUT:g} s): "
        f"/healthz {slow['healthz_while_full']} while full, 200 again after "
        f"{slow['healthz_200_after_s']} s; {slow['tricklers_open_5s_later']} still open 5 s later"
    )
    print(f"wrote {write_results('bench_bodies', result)}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve_bare(sys.argv[2])
    else:
        main()
