"""The demo's server process: `ckrv serve --port 0` run by the same Python and the same ckrv
(installed, or from ckrv.pyz: sys.path is passed on), and a clean stop that leaves no process
behind: the server, and any worker or agent still running under the demo's directory."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ckrv.contracts import launch_env
from ckrv.errors import CkrvError

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_LISTENING = "ckrv server listening on "


def ckrv_command() -> list[str]:
    return [sys.executable, "-m", "ckrv"]


def child_environment() -> dict[str, str]:
    """This environment without ckrv's own settings, with this process's sys.path (which holds
    ckrv wherever it came from: a virtualenv, or the unpacked ckrv.pyz)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CKRV_", "CHAKRAVARTI_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.exists(p))
    return env


def write_config(path: Path, pace: float) -> None:
    """A server config: local repositories allowed, the example agent as the default."""
    agent = [*map(str, (sys.executable, "-m", "ckrv.worker.agents.example_agent"))]
    agent += ["--pace", f"{pace:g}", "{spec_file}"]
    path.write_text(
        "# written by `ckrv demo`\n"
        "[server]\n"
        "allow_local_repositories = true  # the sample repository is a local path\n"
        'default_agent = "example"\n'
        "max_concurrent_jobs = 2\n\n"
        "[agents.example]\n"
        f"command = {json.dumps(agent)}\n",
        encoding="utf-8",
    )


@dataclass
class DemoServer:
    root: Path
    data_dir: Path
    proc: subprocess.Popen[bytes]
    url: str

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; then whatever still runs in the server's
        data dir (a worker or agent of an interrupted job) is killed too."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        kill_processes_under(self.data_dir)


def start_server(root: Path, data_dir: Path, config: Path) -> DemoServer:
    """Start the server in its own session (Ctrl-C reaches the demo, which stops it in order;
    with --keep it outlives the demo), logging to root/server.log."""
    command = [*ckrv_command(), "serve", "--port", "0", "--data-dir", str(data_dir)]
    command += ["--config", str(config)]
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_environment(),
            cwd=root,
            start_new_session=True,
        )
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if line.startswith(_LISTENING):
                return DemoServer(root, data_dir, proc, line[len(_LISTENING) :].strip())
        if proc.poll() is not None:
            raise CkrvError(f"the demo server exited at start (code {proc.returncode}):\n{text}")
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise CkrvError(f"the demo server did not start within {_START_TIMEOUT:g} s")


def _refers_to(pid: str, root: str) -> bool:
    """Whether process `pid` works in `root`: its cwd, or the workspace the local executor set."""
    with contextlib.suppress(OSError):
        if os.readlink(f"/proc/{pid}/cwd").startswith(root):
            return True
    with contextlib.suppress(OSError):
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        marker = f"{launch_env.WORKSPACE}={root}".encode()
        return any(v.startswith(marker) for v in environ)
    return False


def processes_under(root: Path) -> list[int]:
    """Processes (other than this one) that work inside `root`."""
    prefix = str(root.resolve()) + os.sep
    own = str(os.getpid())
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: nothing to look through
        return []
    return [
        int(e.name)
        for e in proc.iterdir()
        if e.name.isdigit() and e.name != own and _refers_to(e.name, prefix)
    ]


def kill_processes_under(root: Path, timeout: float = 5.0) -> None:
    """SIGKILL every process working inside `root` and wait until they are gone."""
    deadline = time.monotonic() + timeout
    while (found := processes_under(root)) and time.monotonic() < deadline:
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
