"""One user's masking-heavy output does not slow the server down for anybody else: masking runs
on threads of its own, with a linear-time automaton, never on the event loop. The first user
has about 1,000 secret forms (multi-line keys); a stand-in worker of theirs posts batches of
hex-heavy lines (hex characters are base64 characters: every line looks like it may hold an
encoded secret) while a second user asks /healthz and /v1/jobs one request after another."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import Server
from tests.support.jobhelpers import hold_for_a_worker, submit
from tests.support.servers import write_config


def multiline_secret() -> str:
    """Shaped like a private key: 30 lines of 64 base64 characters."""
    body = "\n".join(secrets.token_urlsafe(48) for _ in range(30))
    return f"-----BEGIN TEST KEY-----\n{body}\n-----END TEST KEY-----\n"


def post_batches(srv: Server, token: str, job_id: str, batches: int, size: int) -> None:
    lines = [" ".join(secrets.token_hex(32) for _ in range(8)) for _ in range(size)]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=srv.api_url, headers=headers, timeout=300) as worker:
        for batch in range(batches):
            entries = [
                {"seq": batch * size + i + 1, "timestamp": "2026-01-01T00:00:00Z", "message": m}
                for i, m in enumerate(lines)
            ]
            sent = worker.post(f"/worker/jobs/{job_id}/logs", json={"entries": entries})
            assert sent.status_code == 200, sent.text


@pytest.mark.alone  # measures latency
def test_another_users_requests_stay_fast_during_a_masking_flood(
    tmp_path: Path, config_dir: Path
) -> None:
    config = write_config(tmp_path, capacity=0)  # the test is the flooding worker
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
    try:
        with srv.client(srv.add_user("flood@example.com", tier="pro")) as flooder:
            for i in range(16):  # about 1,000 forms, 33 KiB: within the default cap
                put = flooder.put(f"/secrets/KEY_{i}", json={"value": multiline_secret()})
                assert put.status_code == 201, put.text
            job_id = submit(flooder, "hold\n", tmp_path)["id"]
        worker_token = hold_for_a_worker(srv, job_id)
        latencies: list[float] = []
        flooding = True
        with srv.client(srv.add_user("other@example.com", tier="pro")) as other:

            def poll() -> None:
                while flooding:
                    for url in (f"{srv.url}/healthz", "/jobs"):
                        start = time.perf_counter()
                        assert other.get(url).status_code == 200
                        latencies.append(time.perf_counter() - start)

            poller = threading.Thread(target=poll)
            poller.start()
            try:
                post_batches(srv, worker_token, job_id, batches=3, size=3000)
            finally:
                flooding = False
                poller.join()
        latencies.sort()
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        # Masking these batches on the loop held it for seconds at a time.
        assert latencies[-1] < 1.0 and p95 < 0.25, (p95, latencies[-1], len(latencies))
    finally:
        srv.shutdown()
