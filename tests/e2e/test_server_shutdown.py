"""Stopping the server while someone follows a log: the stop is prompt, the follower's stream
ends without [DONE] (so `ckrv logs -f` reconnects), and the job carries on afterwards."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.support.helpers import Server, make_repo, wait_for
from tests.support.jobhelpers import submit, wait_phase, wait_status


def test_sigterm_with_a_follower_stops_promptly_and_the_job_survives(
    server: Server, tmp_path: Path
) -> None:
    token = server.add_user("sig@example.com")
    repo = make_repo(tmp_path / "repo")
    with server.client(token) as api:
        job = submit(api, "print started\nsleep 4\nprint finished\n", repo)
        wait_phase(api, job["id"], "executing")
    received: list[str] = []

    def follow() -> None:
        url = f"{server.api_url}/jobs/{job['id']}/logs?follow=true"
        try:
            with httpx.stream(
                "GET", url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as stream:
                received.extend(stream.iter_lines())
        except httpx.HTTPError:
            received.append("<cut>")

    follower = threading.Thread(target=follow)
    follower.start()
    wait_for(
        lambda: any("started" in line for line in received), what="the follower to be streaming"
    )
    began = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - began < 3, "the stop waited for the open stream"
    follower.join(timeout=10)
    assert "data: [DONE]" not in received
    server.start(port=server.port)
    with server.client(token) as api:
        assert wait_status(api, job["id"])["status"] == "succeeded"
