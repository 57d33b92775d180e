"""What the egress proxy costs, side by side in one run, repeated: a loopback HTTP origin
reached directly, through the filtering proxy (CONNECT, as https goes, and absolute-URI plain
HTTP), and through the bridge and the proxy's unix socket (the path a sandboxed command takes).

Latency: one new connection per request (connect, request, a 2-byte body, close), p50 and p99.
Throughput: one 100 MB download. Origin, proxy and bridge each run in their own process, as in
a job (origin elsewhere, proxy in the worker, bridge in the sandbox).

    .venv/bin/python bench/bench_egress.py [--requests 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BIG = 100 * 1024 * 1024

ORIGIN = r"""
import asyncio, sys
BLOCK = b"x" * (1024 * 1024)
async def serve(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    big = b" /big " in head.split(b"\r\n", 1)[0]
    size = int(sys.argv[1]) if big else 2
    writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    if big:
        for _ in range(size // len(BLOCK)):
            writer.write(BLOCK)
            await writer.drain()
    else:
        writer.write(b"ok")
    await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""

PROXY = r"""
import sys, threading
from pathlib import Path
from ckrv.contracts.network import NetworkPolicy
from ckrv.worker.egress.policy import Allowlist
from ckrv.worker.egress.proxy import EgressProxy, ProxyThread
policy = NetworkPolicy("allowlist", (f"127.0.0.1:{sys.argv[1]}",), "bench")
unix = Path(sys.argv[2]) if len(sys.argv) > 2 else None
proxy = ProxyThread(EgressProxy(Allowlist(policy), lambda m, l: print(m, file=sys.stderr)),
                    unix_path=unix).start()
print(proxy.port, flush=True)
threading.Event().wait()
"""

# Runs behind the bridge: prints the port the bridge gave it, then waits.
BRIDGED = "import os, sys; print(os.environ['HTTP_PROXY'].rsplit(':', 1)[1], flush=True); sys.stdin.read()"


def start(argv: list[str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def read_all(sock: socket.socket, buffer: bytearray) -> int:
    view, total = memoryview(buffer), 0
    while n := sock.recv_into(view):
        total += n
    return total


def fetch(via: int | None, origin: int, path: str, connect: bool, buffer: bytearray) -> int:
    """One request on a new connection; the number of bytes received (head and body)."""
    with socket.create_connection(("127.0.0.1", via or origin)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        target = f"127.0.0.1:{origin}"
        if via and connect:
            sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(1024)
            assert head.startswith(b"HTTP/1.1 200"), head
        uri = f"http://{target}{path}" if via and not connect else path
        sock.sendall(f"GET {uri} HTTP/1.0\r\nHost: {target}\r\n\r\n".encode())
        return read_all(sock, buffer)


def small_fetch(
    via: int | None, origin: int, connect: bool, buffer: bytearray
) -> Callable[[], int]:
    return lambda: fetch(via, origin, "/small", connect, buffer)


def latencies(call: Callable[[], int], count: int) -> list[float]:
    out = []
    for _ in range(count):
        begin = time.perf_counter()
        call()
        out.append((time.perf_counter() - begin) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from ckrv.contracts.network import NetworkPolicy
    from ckrv.worker.egress import Egress

    procs = []
    tmp = Path(tempfile.mkdtemp(prefix="ckrv-bench-", dir="/tmp"))
    try:
        origin_proc, origin = start([sys.executable, "-c", ORIGIN, str(BIG)])
        proxy_proc, proxy = start([sys.executable, "-c", PROXY, str(origin)])
        sock = tmp / "proxy.sock"
        unix_proc, _ = start([sys.executable, "-c", PROXY, str(origin), str(sock)])
        bridged = Egress(NetworkPolicy("allowlist"), directory=tmp)  # its argv, nothing started
        bridge_proc, bridge = start(bridged.bridged([sys.executable, "-c", BRIDGED]))
        procs = [origin_proc, proxy_proc, unix_proc, bridge_proc]
        paths: dict[str, tuple[int | None, bool]] = {
            "direct": (None, False),
            "proxy CONNECT": (proxy, True),
            "proxy plain HTTP": (proxy, False),
            "bridge+proxy CONNECT": (bridge, True),
        }
        buffer = bytearray(4 * 1024 * 1024)
        runs: list[dict[str, float | int | str]] = []
        for repeat in range(1, args.repeats + 1):
            for name, (via, connect) in paths.items():
                lat = latencies(small_fetch(via, origin, connect, buffer), args.requests)
                begin = time.perf_counter()
                got = fetch(via, origin, "/big", connect, buffer)
                seconds = time.perf_counter() - begin
                assert got >= BIG, got
                runs.append(
                    {
                        "repeat": repeat,
                        "path": name,
                        "p50_ms": pct(lat, 0.50),
                        "p99_ms": pct(lat, 0.99),
                        "mean_ms": statistics.fmean(lat),
                        "download_mb_per_s": BIG / seconds / 1e6,
                    }
                )
        report(runs, args)
    finally:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()  # the bridged command ends at its end of input, then the bridge
            if proc is not procs[-1]:
                proc.kill()
            proc.wait(timeout=30)
        for leftover in tmp.iterdir():
            leftover.unlink()
        tmp.rmdir()


def report(runs: list[dict[str, float | int | str]], args: argparse.Namespace) -> None:
    print(f"{args.requests} requests per path and repeat; 100 MB download; cores: {os.cpu_count()}")
    print(f"{'repeat':>6}  {'path':<22}{'p50 ms':>9}{'p99 ms':>9}{'+p50 ms':>9}{'100 MB MB/s':>13}")
    direct = {r["repeat"]: r for r in runs if r["path"] == "direct"}
    for run in runs:
        added = float(run["p50_ms"]) - float(direct[run["repeat"]]["p50_ms"])
        run["added_p50_ms"] = added
        print(
            f"{run['repeat']:>6}  {run['path']:<22}{run['p50_ms']:>9.3f}{run['p99_ms']:>9.3f}"
            f"{added:>9.3f}{run['download_mb_per_s']:>13.0f}"
        )
    out = Path(__file__).resolve().parent / "results" / "bench_egress.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"requests": args.requests, "bytes": BIG, "runs": runs}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
