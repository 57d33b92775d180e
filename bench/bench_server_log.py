"""What the server's own log costs a request: the access-log middleware around a minimal ASGI
app, called in-process (no sockets, so the difference is the log alone), with the log off (as
in-process tests run), as text and as JSON (as `ckrv serve` runs, records handed to the
writer thread through a queue, written to /dev/null). Prints a table and writes
bench/results/bench_server_log.json. Target: under 20 us per request with the log on.

Run: .venv/bin/python bench/bench_server_log.py [--requests 50000]"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ckrv.server import serverlog  # noqa: E402
from ckrv.server.web.access_log import AccessLog  # noqa: E402

SCOPE = {
    "type": "http",
    "method": "GET",
    "path": "/v1/jobs/4f1c2a9e-0b6d-8a3e-9c1f-2d7e5b8a6c40",
    "query_string": b"",
    "headers": [],
    "client": ("127.0.0.1", 50000),
}


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Any) -> None:
    return None


async def per_request_us(target: Any, requests: int) -> float:
    for _ in range(1000):  # warm up
        await target(dict(SCOPE), receive, send)
    started = time.perf_counter()
    for _ in range(requests):
        await target(dict(SCOPE), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50_000)
    requests = parser.parse_args().requests
    results = {"bare app": asyncio.run(per_request_us(app, requests))}
    results["log off"] = asyncio.run(per_request_us(AccessLog(app), requests))
    with open(os.devnull, "w") as sink:
        for log_format in serverlog.LOG_FORMATS:
            listener = serverlog.configure(log_format, sink)
            try:
                results[f"log {log_format}"] = asyncio.run(per_request_us(AccessLog(app), requests))
            finally:
                listener.stop()
    bare = results["bare app"]
    print(f"{'case':<12}{'us/request':>12}{'log cost us':>13}")
    rows = []
    for name, us in results.items():
        rows.append({"case": name, "us_per_request": us, "log_cost_us": us - bare})
        print(f"{name:<12}{us:>12.2f}{us - bare:>13.2f}")
    out = Path(__file__).resolve().parent / "results" / "bench_server_log.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"requests": requests, "results": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
