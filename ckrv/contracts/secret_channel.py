"""How a worker receives its secrets (job token, git credential, agent secrets) without them
ever being in an `execve` environment or command line, where any process of the same user can
read them in /proc/PID/environ or /proc/PID/cmdline:

- local executor: an inherited socket (one end of a socketpair; its number in CKRV_LAUNCH_FD).
  A socket cannot be reopened through /proc/PID/fd, so only the worker can read it; the
  executor writes the secrets and closes its end, the worker reads to the end and closes.
- kubernetes: a file (its path in CKRV_LAUNCH_FILE) an init container copied from the job's
  Secret into a memory volume of the pod (ckrv/server/executors/k8s_launch.py); the worker
  reads it and deletes it before it starts any command, and the Secret itself is never mounted
  in the container the agent runs in. This file holds the whole launch environment.

The payload is one JSON object: variable name -> value, with the names a launch environment
uses for them (CKRV_JOB_TOKEN, CKRV_GIT_CREDENTIAL, CKRV_AGENT_SECRETS). With neither variable
set (a worker started by hand), the secrets are read from the environment as before. What
cannot be read raises LaunchEnvError."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from ckrv.contracts.launch_env import SECRET_NAMES, LaunchEnvError

LAUNCH_FD = "CKRV_LAUNCH_FD"
LAUNCH_FILE = "CKRV_LAUNCH_FILE"
_MAX_PAYLOAD = 16 * 1024 * 1024  # far above any launch (the server caps secrets' sizes)


def split(env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(what may go in the worker's environment, what must go through the channel)."""
    public = {k: v for k, v in env.items() if k not in SECRET_NAMES}
    secret = {k: v for k, v in env.items() if k in SECRET_NAMES}
    return public, secret


def encode(secrets: Mapping[str, str]) -> bytes:
    return json.dumps(dict(secrets)).encode()


def decode(payload: bytes, where: str) -> dict[str, str]:
    try:
        data = json.loads(payload)
    except ValueError:
        raise LaunchEnvError(f"the launch secrets from {where} are not valid JSON") from None
    if not isinstance(data, dict):
        raise LaunchEnvError(f"the launch secrets from {where} are not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def _secrets_only(values: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if k in SECRET_NAMES}


def take(environ: MutableMapping[str, str]) -> dict[str, str]:
    """The worker's secrets, read once from wherever the executor put them; the variable
    naming the channel is removed from `environ`. Call after `protect_self`."""
    fd = environ.pop(LAUNCH_FD, None)
    path = environ.pop(LAUNCH_FILE, None)
    if fd is not None:
        return _secrets_only(decode(_read_socket(fd), f"file descriptor {fd}"))
    if path is not None:
        # the file holds the whole launch environment (kubernetes: nothing else comes in the
        # container's environment); what is not a secret joins the worker's environment
        values = decode(_read_and_delete(Path(path)), path)
        environ.update({k: v for k, v in values.items() if k not in SECRET_NAMES})
        return _secrets_only(values)
    return {name: environ[name] for name in SECRET_NAMES if name in environ}


def _read_socket(fd: str) -> bytes:
    if not fd.isdigit():
        raise LaunchEnvError(f"{LAUNCH_FD} must be a file descriptor number, not {fd!r}")
    try:
        sock = socket.socket(fileno=int(fd))
    except OSError as exc:
        raise LaunchEnvError(
            f"cannot read the launch secrets from fd {fd}: {exc.strerror}"
        ) from None
    chunks: list[bytes] = []
    with sock:
        sock.settimeout(60)  # the executor writes right after the start; never wait forever
        while sum(map(len, chunks)) <= _MAX_PAYLOAD:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _read_and_delete(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LaunchEnvError(f"cannot read the launch secrets at {path}: {exc.strerror}") from None
    # Gone before any command starts: the agent shares this container and this user.
    path.unlink(missing_ok=True)
    return data


def sender_socketpair() -> tuple[socket.socket, socket.socket]:
    """(the executor's end, the worker's end). The worker's end is passed with pass_fds."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return ours, theirs


__all__ = [
    "LAUNCH_FD",
    "LAUNCH_FILE",
    "SECRET_NAMES",
    "decode",
    "encode",
    "sender_socketpair",
    "split",
    "take",
]
