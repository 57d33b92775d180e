"""A small HTTP/1.1 keep-alive load generator on raw asyncio streams, so the generator's own
cost stays far below the server's (an httpx client would dominate on a 2-core machine).

`run(host, port, requests, concurrency, duration)` sends the requests round-robin over
`concurrency` connections for `duration` seconds; returns throughput and latency percentiles."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return (
            ordered[min(int(len(ordered) * q), len(ordered) - 1)] * 1000
            if ordered
            else float("nan")
        )

    def row(self) -> dict[str, float]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.pct(0.50), 2),
            "p99_ms": round(self.pct(0.99), 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else 0.0,
        }


def build(
    method: str, path: str, host: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _worker(
    host: str, port: int, make: Callable[[int], bytes], stop: float, out: Result, index: int
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    n = index
    try:
        while time.perf_counter() < stop:
            request = make(n)
            n += 1
            started = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            out.latencies.append(time.perf_counter() - started)
            out.statuses[status] = out.statuses.get(status, 0) + 1
            out.requests += 1
    finally:
        writer.close()


async def _run(
    host: str, port: int, make: Callable[[int], bytes], concurrency: int, duration: float
) -> Result:
    out = Result(0, duration, [], {})
    began = time.perf_counter()
    stop = began + duration
    await asyncio.gather(
        *(_worker(host, port, make, stop, out, i * 1_000_000) for i in range(concurrency))
    )
    out.seconds = time.perf_counter() - began
    return out


def run(
    host: str, port: int, make: Callable[[int], bytes], concurrency: int = 32, duration: float = 5.0
) -> Result:
    return asyncio.run(_run(host, port, make, concurrency, duration))
