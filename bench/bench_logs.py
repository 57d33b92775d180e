"""Live-log benchmarks. Prints a table and writes bench/results/bench_logs.json.

1. Latency from the agent printing a line to `ckrv logs -f` printing it, at 100, 2,000 and
   10,000 lines/s (p50, p99); target: p99 under 50 ms at 2,000 lines/s. The agent puts its
   wall-clock time in each line. A raw SSE reader beside the CLI splits the path: agent ->
   worker (the entry's timestamp, taken by the worker when it read the line, ms resolution),
   agent -> SSE client, agent -> CLI stdout.
2. Ingestion: batches of 1,000 entries POSTed straight to the worker endpoint with a worker
   token, over 2 keep-alive connections: lines/s and server CPU per 1,000 lines, with no
   follower and with one live follower. Target: at least 50,000 lines/s.
3. Fan-out: 1,000 concurrent followers of one job while a publisher (its own process) posts
   lines at a steady rate: every follower must get every line exactly once and the [DONE];
   latency p50/p99 (post -> follower socket), the server's peak RSS, CPU per 1,000 lines.
   Targets: p99 under 250 ms, RSS under 300 MB.

Run: .venv/bin/python bench/bench_logs.py [--quick]
(`bench_logs.py agent SPEC` and `bench_logs.py publish ...` are its helper processes.)"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.helpers import PYTHON, Server, base_env, make_repo  # noqa: E402

CONFIG = """
[server]
allow_local_repositories = true
max_concurrent_jobs = 4
default_agent = "bench"
[agents.bench]
command = ["{python}", "{script}", "agent", "{{spec_file}}"]
"""
TICK = os.sysconf("SC_CLK_TCK")


# --- helper process: the agent ---


def agent(spec_file: str) -> None:
    """`hold S` sleeps; `lines RATE COUNT` prints COUNT lines `t=<time> i=<n>` at RATE/s."""
    for raw in Path(spec_file).read_text().splitlines():
        words = raw.split()
        if words[:1] == ["hold"]:
            time.sleep(float(words[1]))
        elif words[:1] == ["lines"]:
            rate, count = float(words[1]), int(words[2])
            start = time.monotonic()
            for i in range(count):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sys.stdout.write(f"t={time.time():.6f} i={i}\n")
                sys.stdout.flush()


# --- server side helpers ---


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)] if ordered else float("nan")


def ms(values: list[float]) -> dict[str, float]:
    return {
        "min_ms": round(min(values) * 1000, 2) if values else float("nan"),
        "p10_ms": round(percentile(values, 0.1) * 1000, 2),
        "p50_ms": round(percentile(values, 0.5) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2) if values else float("nan"),
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Bench:
    def __init__(self, tmp: Path) -> None:
        config = tmp / "ckrv.toml"
        config.write_text(CONFIG.format(python=PYTHON, script=Path(__file__).resolve()))
        (tmp / "config").mkdir()
        self.server = Server(
            data_dir=tmp / "data", config_dir=tmp / "config", config=config
        ).start()
        self.token = self.server.add_user("bench@example.com", tier="enterprise")
        self.repo = make_repo(tmp / "repo")
        self.client = self.server.client(self.token)

    def close(self) -> None:
        self.client.close()
        self.server.stop()

    @property
    def pid(self) -> int:
        assert self.server.proc is not None
        return self.server.proc.pid

    def submit(self, spec: str) -> str:
        body = {"spec_content": spec, "git_repo_url": self.repo.as_uri()}
        response = self.client.post("/jobs", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def wait(self, job_id: str, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.client.get(f"/jobs/{job_id}").json()
            if predicate(job):
                return job
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} did not get there: {job}")

    def holding_job(self) -> tuple[str, str]:
        """A job whose agent just sleeps, and a worker token for posting its log directly."""
        from ckrv.server.identity.signing_key import load_signing_key
        from ckrv.server.identity.tokens import TokenIssuer

        job_id = self.submit("# hold\nhold 600\n")
        self.wait(job_id, lambda j: j["phase"] == "executing")
        conn = sqlite3.connect(self.server.data_dir / "ckrv.db")
        attempt = conn.execute("SELECT attempt FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        conn.close()
        issuer = TokenIssuer(load_signing_key(self.server.data_dir), self.server.url, 900.0)
        return job_id, issuer.worker_token(job_id, 3600, attempt)

    def cancel(self, job_id: str) -> None:
        self.client.post(f"/jobs/{job_id}/cancel")


# --- 1. latency, agent to `ckrv logs -f` ---


def _stamp(message: str) -> tuple[int, float] | None:
    if not message.startswith("t="):
        return None
    stamp, _, index = message.partition(" i=")
    return int(index), float(stamp[2:])


def _iso_seconds(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def latency(bench: Bench, rate: int, seconds: float) -> dict[str, Any]:
    import httpx

    count = int(rate * seconds)
    job_id = bench.submit(f"# latency {rate}\nhold 1.5\nlines {rate} {count}\n")
    env = {
        **base_env(bench.server.config_dir),
        "CHAKRAVARTI_API_URL": bench.server.api_url,
        "CKRV_TOKEN": bench.token,
    }
    cli = subprocess.Popen(
        [PYTHON, "-m", "ckrv", "logs", job_id, "-f"], stdout=subprocess.PIPE, env=env, cwd=ROOT
    )
    sse: list[tuple[int, float, float, float]] = []  # index, agent time, worker time, received

    def raw_follower() -> None:
        headers = {"Authorization": f"Bearer {bench.token}", "Accept": "text/event-stream"}
        with httpx.stream(
            "GET", f"{bench.server.api_url}/jobs/{job_id}/logs", headers=headers, timeout=60
        ) as response:
            for line in response.iter_lines():
                if line.startswith('data: {"seq"'):
                    now = time.time()
                    entry = json.loads(line[6:])
                    stamp = _stamp(entry["message"])
                    if stamp:
                        sse.append((*stamp, _iso_seconds(entry["timestamp"]), now))
                elif line == "data: [DONE]":
                    return

    reader = threading.Thread(target=raw_follower, daemon=True)
    reader.start()
    printed: list[tuple[int, float, float]] = []
    assert cli.stdout is not None
    for raw in cli.stdout:
        now = time.time()
        _clock, _, rest = raw.decode().rstrip("\n").partition(" ")
        source, _, message = rest.partition(": ")
        stamp = _stamp(message) if source == "bench" else None
        if stamp:
            printed.append((*stamp, now))
    code = cli.wait()
    reader.join(timeout=30)
    bench.wait(job_id, lambda j: j["status"] != "running" and j["status"] != "pending")
    assert [i for i, _, _ in printed] == list(range(count)), "the CLI missed or reordered lines"
    assert code == 0, f"ckrv logs -f exited {code}"
    return {
        "rate": rate,
        "lines": count,
        "agent_to_cli": ms([recv - sent for _, sent, recv in printed]),
        "agent_to_sse_client": ms([recv - sent for _, sent, _, recv in sse]),
        "agent_to_worker_stamp": ms([max(worker - sent, 0.0) for _, sent, worker, _ in sse]),
    }


# --- 2. ingestion straight into the worker endpoint ---


def _request(path: str, token: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_json_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    return status, await reader.readexactly(length)


def batches(first_seq: int, lines: int, size: int, stamp: bool = False) -> list[bytes]:
    now = "2026-01-01T00:00:00.000Z"
    out = []
    for start in range(first_seq, first_seq + lines, size):
        entries = [
            {
                "seq": s,
                "timestamp": now,
                "level": "info",
                "source": "bench",
                "message": f"ingested line {s:09d} " + "x" * 40,
            }
            for s in range(start, start + size)
        ]
        out.append(json.dumps({"entries": entries}).encode())
    return out


async def _post_all(
    port: int, path: str, token: str, bodies: list[bytes], connections: int
) -> None:
    queue = list(reversed(bodies))

    async def sender() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while queue:
            writer.write(_request(path, token, queue.pop()))
            status, body = await _read_json_response(reader)
            assert status == 200, body
        writer.close()

    await asyncio.gather(*(sender() for _ in range(connections)))


def ingestion(bench: Bench, lines: int, with_follower: bool) -> dict[str, Any]:
    job_id, worker_token = bench.holding_job()
    bodies = batches(1_000_000, lines, 1000)
    follower = None
    if with_follower:
        follower = subprocess.Popen(
            [
                "curl",
                "-sN",
                "-o",
                "/dev/null",
                "-H",
                f"Authorization: Bearer {bench.token}",
                f"{bench.server.api_url}/jobs/{job_id}/logs?follow=true",
            ]
        )
    path = f"/v1/worker/jobs/{job_id}/logs"
    cpu0, t0 = cpu_seconds(bench.pid), time.monotonic()
    asyncio.run(_post_all(bench.server.port, path, worker_token, bodies, 2))
    elapsed, cpu = time.monotonic() - t0, cpu_seconds(bench.pid) - cpu0
    stored = bench.client.get(f"/jobs/{job_id}/logs", params={"tail": 1}).json()["logs"][-1]
    assert stored["message"].startswith(f"ingested line {1_000_000 + lines - 1:09d}")
    bench.cancel(job_id)
    if follower is not None:
        follower.wait(timeout=60)
    return {
        "lines": lines,
        "followers": int(with_follower),
        "seconds": round(elapsed, 3),
        "lines_per_s": round(lines / elapsed),
        "server_cpu_ms_per_1000": round(cpu / lines * 1e6, 2),
    }


# --- 3. 1,000 followers ---


def publish(port: int, job_id: str, token: str, rate: float, seconds: float) -> None:
    """Helper process: posts `rate` lines/s (in 10 ms batches) stamped with the send time."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port)
    per_batch = max(1, round(rate / 100))
    interval = per_batch / rate
    seq, start = 10_000_000, time.monotonic()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for n in range(int(seconds * rate / per_batch)):
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        now = time.time()
        entries = [
            {
                "seq": seq + k,
                "timestamp": "2026-01-01T00:00:00.000Z",
                "level": "info",
                "source": "bench",
                "message": f"t={now:.6f} i={n * per_batch + k}",
            }
            for k in range(per_batch)
        ]
        seq += per_batch
        conn.request(
            "POST", f"/v1/worker/jobs/{job_id}/logs", json.dumps({"entries": entries}), headers
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    print(seq - 10_000_000, flush=True)


_STAMPED = re.compile(rb'"message":"t=([0-9.]+) i=\d+"')
_LOG_ID = re.compile(rb"id: (\d+)\nevent: log\n")


class Follower:
    """One raw SSE connection. Every follower checks that the positions it gets run 1, 2, 3...
    without a gap or a repeat (cheaply: first and last id and the count of each chunk); only a
    sample of followers parse every line's timestamp, so the client's own cost stays small."""

    def __init__(self, sample: bool) -> None:
        self.sample = sample
        self.last_id = 0
        self.count = 0
        self.gaps = 0
        self.latencies: list[float] = []
        self.done = False
        self.connected = asyncio.Event()

    def feed(self, text: bytes, now: float) -> None:
        first = _LOG_ID.search(text)
        if first is not None:
            count = text.count(b"\nevent: log\n")
            last = _LOG_ID.search(text, text.rfind(b"id: ", 0, text.rfind(b"\nevent: log\n") + 1))
            assert last is not None
            if (
                int(first.group(1)) != self.last_id + 1
                or int(last.group(1)) != self.last_id + count
            ):
                self.gaps += 1
            self.last_id += count
            self.count += count
        if self.sample:
            self.latencies += [now - float(m.group(1)) for m in _STAMPED.finditer(text)]
        if b"data: [DONE]" in text:
            self.done = True

    async def run(self, port: int, path: str, token: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n", 1)[0], head
        pending = b""
        while not self.done:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.strip(), 16)
            if size == 0:
                break
            chunk = await reader.readexactly(size + 2)
            now = time.time()
            self.connected.set()
            events = pending + chunk[:-2]
            cut = events.rfind(b"\n\n") + 2
            pending = events[cut:]
            self.feed(events[:cut], now)
        writer.close()


def followers(bench: Bench, count: int, rate: float, seconds: float) -> dict[str, Any]:
    job_id, worker_token = bench.holding_job()
    path = f"/v1/jobs/{job_id}/logs?follow=true"
    rss: list[float] = []
    own: list[float] = []

    async def main() -> tuple[list[Follower], int, float, float]:
        crowd = [Follower(sample=n % 10 == 0) for n in range(count)]
        tasks = [asyncio.create_task(f.run(bench.server.port, path, bench.token)) for f in crowd]
        await asyncio.wait_for(asyncio.gather(*(f.connected.wait() for f in crowd)), 120)
        rss.append(rss_mb(bench.pid))
        cpu0, t0 = cpu_seconds(bench.pid), time.monotonic()
        own0 = time.process_time()
        publisher = await asyncio.create_subprocess_exec(
            PYTHON,
            __file__,
            "publish",
            str(bench.server.port),
            job_id,
            worker_token,
            str(rate),
            str(seconds),
            stdout=asyncio.subprocess.PIPE,
        )
        while publisher.returncode is None:
            rss.append(rss_mb(bench.pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(publisher.wait(), 0.5)
        assert publisher.stdout is not None
        published = int((await publisher.stdout.read()).strip())
        await asyncio.sleep(0)
        cpu, elapsed = cpu_seconds(bench.pid) - cpu0, time.monotonic() - t0
        own.append(time.process_time() - own0)
        await asyncio.to_thread(bench.cancel, job_id)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        return crowd, published, cpu, elapsed

    crowd, published, cpu, elapsed = asyncio.run(main())
    log = bench.client.get(f"/jobs/{job_id}/logs").json()["logs"]
    assert sum(e["message"].startswith("t=") for e in log) == published, "lines were lost"
    complete = sum(f.done and not f.gaps and f.count == len(log) for f in crowd)
    latencies = [value for f in crowd for value in f.latencies]
    return {
        "followers": count,
        "rate": rate,
        "lines": published,
        "every_line_to_every_follower": complete == count,
        "complete_followers": complete,
        "latency_sampled_followers": sum(f.sample for f in crowd),
        **ms(latencies),
        "server_rss_peak_mb": round(max(rss), 1),
        "server_rss_connected_mb": round(rss[0], 1),
        "server_cpu_s_per_1000_lines": round(cpu / published * 1000, 3),
        "server_cpu_share": round(cpu / elapsed, 2),
        "seconds": round(elapsed, 2),
        "bench_client_cpu_share": round(own[0] / elapsed, 2),
    }


# --- main ---


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument(
        "--only",
        choices=["latency", "ingestion", "followers"],
        action="append",
        help="run only these parts (repeatable)",
    )
    parser.add_argument("--followers", type=int, default=1000, help="followers of one job")
    parser.add_argument(
        "--rate",
        type=float,
        action="append",
        help="lines/s in the fan-out runs (repeatable) [100 and 1000]",
    )
    args = parser.parse_args()
    parts = set(args.only or ["latency", "ingestion", "followers"])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    seconds = 2.0 if args.quick else 5.0
    results: dict[str, Any] = {"load_average_before": os.getloadavg()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        try:
            if "latency" in parts:
                results["latency"] = [
                    latency(bench, rate, seconds if rate < 10_000 else seconds / 2)
                    for rate in (100, 2_000, 10_000)
                ]
            if "ingestion" in parts:
                lines = 100_000 if args.quick else 300_000
                results["ingestion"] = [
                    ingestion(bench, lines, False),
                    ingestion(bench, lines, True),
                ]
            if "followers" in parts:
                results["followers"] = [
                    followers(bench, args.followers, rate, seconds * 2)
                    for rate in args.rate or [100.0, 1000.0]
                ]
        finally:
            bench.close()
    results["load_average_after"] = os.getloadavg()[0]
    report(results)
    out = ROOT / "bench" / "results" / "bench_logs.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")


def report(results: dict[str, Any]) -> None:
    print(
        f"\n{results['cpus']} CPUs; load average {results['load_average_before']:.1f} before, "
        f"{results['load_average_after']:.1f} after (other processes' load shows in the tails)"
    )
    print("\nLatency, agent prints -> shown (ms)          p50      p99      max")
    for row in results.get("latency", []):
        for name in ("agent_to_worker_stamp", "agent_to_sse_client", "agent_to_cli"):
            cell = row[name]
            print(
                f"  {row['rate']:>6}/s  {name:<26}{cell['p50_ms']:>8}{cell['p99_ms']:>9}{cell['max_ms']:>9}"
            )
    print("\nIngestion (worker endpoint, 1,000-line batches, 2 connections)")
    for row in results.get("ingestion", []):
        print(
            f"  {row['followers']} follower(s): {row['lines_per_s']:>8} lines/s, "
            f"server CPU {row['server_cpu_ms_per_1000']} ms per 1,000 lines"
        )
    print("\nFan-out")
    for row in results.get("followers", []):
        print(
            f"  {row['followers']} followers at {row['rate']:g} lines/s, {row['lines']} lines: "
            f"every line to every follower: {row['every_line_to_every_follower']}; "
            f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, max {row['max_ms']} ms"
        )
        print(
            f"    server RSS peak {row['server_rss_peak_mb']} MB "
            f"({row['server_rss_connected_mb']} MB once connected); server CPU "
            f"{row['server_cpu_s_per_1000_lines']} s per 1,000 lines "
            f"({row['server_cpu_share']:.0%} of a core)"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["agent"]:
        agent(sys.argv[2])
    elif sys.argv[1:2] == ["publish"]:
        publish(int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6]))
    else:
        main()
