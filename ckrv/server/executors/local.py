"""The local executor: one worker subprocess (`python -m ckrv.worker`) per job, in its own
session and process group, with a scrubbed environment and a workspace under the data dir.
Workers outlive a server restart; they are identified by pid plus the kernel's process start
time, so a reused pid is never taken for a live worker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import sys
from pathlib import Path

from ckrv.contracts import launch_env, secret_channel
from ckrv.server.executors.base import Launch, RunningJob, WorkerLost

_KEEP_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "SYSTEMROOT",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
_POLL_SECONDS = 0.5
_KILL_GRACE = 2.0
_HANDOVER_SECONDS = 30.0  # a worker that has not read its secrets by then is stuck


def worker_command() -> list[str]:
    """The same interpreter and the same ckrv (from a zipapp too: its sys.path is passed on).
    `-m ckrv.worker` is `ckrv worker` without the CLI's imports (paid once per job)."""
    return [sys.executable, "-m", "ckrv.worker"]


def _python_path() -> str:
    return os.pathsep.join(p for p in sys.path if p and os.path.exists(p))


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks); None when gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def parse_ref(ref: str | None) -> tuple[int, str] | None:
    if not ref or ":" not in ref:
        return None
    pid, start = ref.split(":", 1)
    return (int(pid), start) if pid.isdigit() else None


def alive(ref: str | None) -> bool:
    parsed = parse_ref(ref)
    return parsed is not None and process_start_time(parsed[0]) == parsed[1]


def group_of_job(pgid: int, job_id: str) -> bool:
    """Whether process group `pgid` still holds a live process of the job (its environment
    names the job). A group id is not reused while the group has members, so once one is
    found the whole group is the job's; an empty group's id may belong to someone else."""
    marker = f"{launch_env.JOB_ID}={job_id}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _ppid, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            if int(group) != pgid or state == "Z":
                continue
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                return True
        except (OSError, ValueError):
            continue
    return False


def private_dir(workspace: Path) -> Path:
    """The worker's own directory (its git repository, the credential's files for the clone
    and the push): beside the workspace, never inside it, so a sandbox that shows a job its
    workspace does not show it this."""
    return workspace.with_name(workspace.name + ".private")


async def _hand_over(sock: socket.socket, payload: bytes) -> None:
    """Write the secrets and close: the worker reads to the end. A worker that died first
    makes this fail quietly (its watcher reports the job)."""
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(loop.sock_sendall(sock, payload), _HANDOVER_SECONDS)


def _server_home() -> str:
    """The server user's home (its config, keys of its own), which no sandbox may show."""
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return os.path.expanduser("~")


async def _remove_tree(path: Path) -> None:
    """Delete a workspace (a whole clone) off the event loop, which also runs the DB writer."""
    await asyncio.to_thread(shutil.rmtree, path, ignore_errors=True)


class LocalExecutor:
    name = "local"

    def __init__(
        self, workspaces: Path, sandbox: str = "none", data_dir: Path | None = None
    ) -> None:
        self.workspaces = workspaces
        self.sandbox = sandbox  # bwrap: the worker runs every command of the job in bubblewrap
        self.hidden = [str(data_dir or workspaces.parent), _server_home()]
        self._lost: WorkerLost | None = None
        self._watchers: dict[str, asyncio.Task[None]] = {}

    async def start(self, lost: WorkerLost) -> None:
        self._lost = lost
        self.workspaces.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _environment(self, public: dict[str, str], workspace: Path) -> dict[str, str]:
        env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
        env.update(
            HOME=str(workspace),
            TMPDIR=str(workspace / "tmp"),
            PYTHONPATH=_python_path(),
            PYTHONUNBUFFERED="1",
        )
        env[launch_env.WORKSPACE] = str(workspace)
        env[launch_env.PRIVATE_DIR] = str(private_dir(workspace))
        if self.sandbox == "bwrap":
            env[launch_env.SANDBOX] = "bwrap"
            env[launch_env.SANDBOX_HIDE] = json.dumps(self.hidden)
        env.update(public)
        return env

    async def launch(self, launch: Launch) -> str:
        """Start the worker with the launch's public variables in its environment and its
        secrets on an inherited socket (never in an environment any process could read)."""
        workspace = self.workspaces / launch.job_id
        await self._remove_job_dirs(launch.job_id)
        (workspace / "tmp").mkdir(mode=0o700, parents=True)
        private_dir(workspace).mkdir(mode=0o700)
        public, secrets = secret_channel.split(launch.env)
        ours, theirs = secret_channel.sender_socketpair()
        try:
            env = self._environment(public, workspace)
            env[secret_channel.LAUNCH_FD] = str(theirs.fileno())
            with open(workspace / "worker.log", "wb") as log:  # not a pipe: it outlives us
                proc = await asyncio.create_subprocess_exec(
                    *worker_command(),
                    cwd=workspace,
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    pass_fds=(theirs.fileno(),),
                )
            theirs.close()
            await _hand_over(ours, secret_channel.encode(secrets))
        finally:
            theirs.close()
            ours.close()
        start = process_start_time(proc.pid) or "0"
        self._watchers[launch.job_id] = asyncio.create_task(self._wait_child(launch.job_id, proc))
        return f"{proc.pid}:{start}"

    async def _wait_child(self, job_id: str, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        self._kill_group(proc.pid, signal.SIGKILL)  # whatever the agent left running goes too
        reason = f"the worker exited (code {code}) without reporting a result"
        tail = self._worker_output_tail(job_id)
        await self._ended(job_id, f"{reason}; its last output:\n{tail}" if tail else reason)

    def _worker_output_tail(self, job_id: str, lines: int = 8) -> str:
        """The end of the worker's own stderr (a crash's traceback), for the job's error."""
        try:
            text = (self.workspaces / job_id / "worker.log").read_bytes()[-4096:]
        except OSError:
            return ""
        return "\n".join(text.decode("utf-8", "replace").strip().splitlines()[-lines:])

    async def _poll_adopted(self, job_id: str, ref: str) -> None:
        while alive(ref):
            await asyncio.sleep(_POLL_SECONDS)
        parsed = parse_ref(ref)
        if parsed:
            self._kill_group(parsed[0], signal.SIGKILL)
        await self._ended(job_id, "the worker process ended without reporting a result")

    async def _ended(self, job_id: str, reason: str) -> None:
        self._watchers.pop(job_id, None)
        await self._remove_job_dirs(job_id)
        if self._lost is not None:
            await self._lost(job_id, reason)

    async def reconcile(self, running: list[RunningJob]) -> dict[str, str]:
        gone: dict[str, str] = {}
        for job in running:
            if job.executor_ref and alive(job.executor_ref):
                self._watchers[job.job_id] = asyncio.create_task(
                    self._poll_adopted(job.job_id, job.executor_ref)
                )
            else:
                await self._clear_leftovers(job.job_id, job.executor_ref)
                gone[job.job_id] = "the worker process was gone when the server restarted"
        return gone

    async def _clear_leftovers(self, job_id: str, ref: str | None) -> None:
        """A worker that died while the server was down leaves its agent running (in the
        worker's process group, now without a leader) and its workspace on disk."""
        parsed = parse_ref(ref)
        if parsed is not None and group_of_job(parsed[0], job_id):
            self._kill_group(parsed[0], signal.SIGKILL)
        await self._remove_job_dirs(job_id)

    async def _remove_job_dirs(self, job_id: str) -> None:
        workspace = self.workspaces / job_id
        await _remove_tree(workspace)
        await _remove_tree(private_dir(workspace))

    @staticmethod
    def _kill_group(pgid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    async def terminate(self, job_id: str, executor_ref: str | None) -> None:
        parsed = parse_ref(executor_ref)
        if parsed is None or not alive(executor_ref):
            return
        self._kill_group(parsed[0], signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + _KILL_GRACE
        while alive(executor_ref) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        self._kill_group(parsed[0], signal.SIGKILL)

    async def stop(self) -> None:
        for task in list(self._watchers.values()):
            task.cancel()
        for task in list(self._watchers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watchers.clear()
