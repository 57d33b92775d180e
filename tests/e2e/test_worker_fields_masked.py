"""Everything a worker writes passes the server's own mask: a worker that does not mask (an old
version, a bug, a tampered image) posts a user's secret and git token in every field it can
write, in several encodings, and no answer of the API, nor any file of the data dir, holds
them. The worker's last output, read by the executor when a worker dies, is masked too."""

from __future__ import annotations

import base64
import os
import signal
import sqlite3
from pathlib import Path

import httpx

from tests.support.helpers import Server, make_repo
from tests.support.jobhelpers import hold_for_a_worker, submit, wait_phase, wait_status
from tests.support.servers import write_config

SECRET = "sk-SENTINEL-agent-secret-0123456789"
TOKEN = "ghp_SENTINELjob0123456789abcdefGHIJ"


def leaks(text: str) -> list[str]:
    forms = [SECRET, TOKEN, base64.b64encode(SECRET.encode()).decode()[:-4]]
    return [form for form in forms if form in text]


def files_under(root: Path) -> list[bytes]:
    found = []
    for directory, _dirs, names in os.walk(root):
        for name in names:
            try:
                found.append((Path(directory) / name).read_bytes())
            except OSError:
                continue
    return found


def test_no_field_a_worker_writes_keeps_a_secret(tmp_path: Path, config_dir: Path) -> None:
    config = write_config(tmp_path, capacity=0)  # no real worker: the test is the worker
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
    try:
        with srv.client(srv.add_user("ada@example.com", tier="pro")) as api:
            assert api.put("/secrets/MY_SECRET", json={"value": SECRET}).status_code == 201
            credential = {"name": "gh", "provider": "github", "credential_type": "pat"}
            assert api.post("/credentials", json={**credential, "value": TOKEN}).status_code == 201
            url = "https://git.example.com/me/app.git"
            job_id = submit(api, "print held\n", url, git_credential_name="gh")["id"]
            token = hold_for_a_worker(srv, job_id)
            encoded = base64.b64encode(f"x-access-token:{SECRET}".encode()).decode()
            with httpx.Client(
                base_url=srv.api_url, headers={"Authorization": f"Bearer {token}"}
            ) as worker:
                event = {
                    "status": "running",
                    "phase": "executing",
                    "base_commit": f"{SECRET}0000",
                    "feature_branch_name": f"ckrv/{TOKEN}",
                }
                assert worker.post(f"/worker/jobs/{job_id}/events", json=event).status_code == 200
                entry = {
                    "seq": 1,
                    "timestamp": "2026-01-01T00:00:00.000Z",
                    "message": f"Authorization: Basic {encoded} and {TOKEN}",
                }
                sent = worker.post(f"/worker/jobs/{job_id}/logs", json={"entries": [entry]})
                assert sent.status_code == 200, sent.text
                result = {
                    "status": "failed",
                    "summary": f"tried {SECRET}",
                    "error_message": f"git push https://{TOKEN}@host failed: {SECRET}",
                    "pushed_branch": f"ckrv/{SECRET}",
                    "diff_stats": {SECRET: 1, "files_changed": 2},
                    "agent_exit_code": 1,
                }
                done = worker.post(f"/worker/jobs/{job_id}/result", json=result)
                assert done.status_code == 200, done.text
            final = wait_status(api, job_id)
            assert final["status"] == "failed" and "***" in final["error_message"]
            answers = [
                api.get(f"/jobs/{job_id}").text,
                api.get("/jobs").text,
                api.get(f"/jobs/{job_id}/logs").text,
                api.get(f"/jobs/{job_id}/logs", params={"follow": "false"}).text,
            ]
            for answer in answers:
                assert not leaks(answer), answer
        srv.shutdown()
        assert not any(SECRET.encode() in data for data in files_under(srv.data_dir))
        assert not any(TOKEN.encode() in data for data in files_under(srv.data_dir))
    finally:
        srv.shutdown()


def test_the_last_output_of_a_worker_that_died_is_masked(server: Server, tmp_path: Path) -> None:
    with server.client(server.add_user("ada@example.com", tier="pro")) as api:
        assert api.put("/secrets/MY_SECRET", json={"value": SECRET}).status_code == 201
        job_id = submit(api, "# Waits\nsleep 60\n", make_repo(tmp_path / "repo"))["id"]
        wait_phase(api, job_id, "executing")
        # a worker that printed a secret in its crash (its stderr is workspace/worker.log)
        with open(server.data_dir / "workspaces" / job_id / "worker.log", "a") as log:
            log.write(f"Traceback: boom with {SECRET}\n")
        conn = sqlite3.connect(server.data_dir / "ckrv.db")
        try:
            (ref,) = conn.execute(
                "SELECT executor_ref FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        finally:
            conn.close()
        os.kill(int(ref.split(":")[0]), signal.SIGKILL)
        done = wait_status(api, job_id)
        assert done["status"] == "failed", done
        assert (
            "its last output" in done["error_message"] and "boom with ***" in done["error_message"]
        )
        assert not leaks(api.get(f"/jobs/{job_id}").text)
        assert not leaks(api.get(f"/jobs/{job_id}/logs").text)
