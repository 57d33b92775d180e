"""The worker's side of the launch handover (ckrv/contracts/secret_channel.py): secrets come from
an inherited socket or a file it deletes, never from its environment when a channel is named."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from ckrv.contracts import secret_channel

SECRETS = {"CKRV_JOB_TOKEN": "tok", "CKRV_AGENT_SECRETS": json.dumps({"K": "v"})}


def test_the_socket_gives_the_secrets_and_only_them() -> None:
    ours, theirs = socket.socketpair()
    ours.sendall(secret_channel.encode({**SECRETS, "CKRV_API_URL": "http://x"}))
    ours.close()
    environ = {secret_channel.LAUNCH_FD: str(theirs.detach()), "PATH": "/bin"}
    assert secret_channel.take(environ) == SECRETS
    assert environ == {"PATH": "/bin"}  # the channel's variable is gone, nothing added


def test_the_file_is_read_once_deleted_and_its_public_values_join_the_environment(
    tmp_path: Path,
) -> None:
    launch = tmp_path / "launch.json"
    launch.write_text(json.dumps({**SECRETS, "CKRV_API_URL": "http://x", "CKRV_JOB_ID": "j"}))
    environ = {secret_channel.LAUNCH_FILE: str(launch)}
    assert secret_channel.take(environ) == SECRETS
    assert environ == {"CKRV_API_URL": "http://x", "CKRV_JOB_ID": "j"}
    assert not launch.exists()


def test_the_local_executor_puts_no_secret_in_the_environment() -> None:
    public, secret = secret_channel.split({**SECRETS, "CKRV_JOB_ID": "j", "PATH": "/bin"})
    assert secret == SECRETS and public == {"CKRV_JOB_ID": "j", "PATH": "/bin"}
