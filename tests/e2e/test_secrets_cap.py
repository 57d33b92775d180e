"""A user's agent secrets near the server's total cap (max_secrets_bytes) still reach a real job
in the default sandbox: secrets travel to the worker over its secret channel, and the agent
gets each one in its environment, which the cap keeps within what `execve` accepts."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.support.helpers import Server, make_repo
from tests.support.jobhelpers import logs, submit, wait_status


def test_a_job_of_a_user_with_secrets_near_the_cap_runs(server: Server, tmp_path: Path) -> None:
    cap = 64 * 1024  # max_secrets_bytes' default
    names = [f"BIG_{i}" for i in range(4)]
    values = {name: secrets.token_hex(8 * 1024 - 8) for name in names}  # 16 KiB less a bit each
    with server.client(server.add_user("ada@example.com", tier="pro")) as api:
        for name, value in values.items():
            assert api.put(f"/secrets/{name}", json={"value": value}).status_code == 201
        total = sum(len(name) + len(value) for name, value in values.items())
        assert cap - 100 < total <= cap
        spec = "".join(f"env {name}\n" for name in names)
        created = submit(api, spec, make_repo(tmp_path / "repo"))
        done = wait_status(api, created["id"])
        assert done["status"] == "succeeded", done
        stored = "\n".join(logs(server.data_dir, created["id"]))
        for name in names:  # the agent saw every value (masked in the log, as all secrets are)
            assert f"{name}=***" in stored
        assert not any(value[:64] in stored for value in values.values())
        over = api.put("/secrets/ONE_MORE", json={"value": "x" * 200})
        assert over.status_code == 413 and str(cap) in over.json()["message"]
