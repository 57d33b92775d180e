"""Test helpers shared by every level: a real `ckrv serve` subprocess on a loopback port, the
CLI run as a real process with an isolated config dir, and small git utilities."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.support.inprocess import InProcessCli
from tests.support.processes import end_processes_mentioning

if TYPE_CHECKING:
    from ckrv.clock import Clock

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def base_env(config_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CKRV_", "CHAKRAVARTI_"))}
    env.update(
        {
            "CKRV_CONFIG_DIR": str(config_dir),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "NO_COLOR": "1",
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


@dataclass
class Server:
    """A real `ckrv serve` process on 127.0.0.1 with its own data dir."""

    data_dir: Path
    config_dir: Path
    config: Path | None = None
    extra_args: Sequence[str] = ()
    env_extra: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    port: int = 0
    output: list[str] = field(default_factory=list)
    pump: Any = field(default=None, repr=False)

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1"

    def start(self, port: int = 0, timeout: float = 20.0) -> Server:
        args = [
            PYTHON,
            "-m",
            "ckrv",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(port or self.port),
        ]
        if self.config:
            args += ["--config", str(self.config)]
        env = {**base_env(self.config_dir), **self.env_extra}
        self.proc = subprocess.Popen(
            [*args, *self.extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                self.proc.stdout.close()
                raise RuntimeError("ckrv serve exited early:\n" + "".join(self.output))
            self.output.append(line)
            if line.startswith("{") and '"server.started"' in line:  # --log-format json
                self.url = json.loads(line)["url"]
                self.port = int(self.url.rsplit(":", 1)[1])
                break
            if "listening on http://" in line:
                self.url = line.split("listening on ", 1)[1].strip()
                self.port = int(self.url.rsplit(":", 1)[1])
                break
        else:
            raise RuntimeError("ckrv serve did not start in time")
        self._drain()
        self.wait_healthy()
        return self

    def _drain(self) -> None:
        import threading

        def pump(stream: Any) -> None:
            for line in stream:
                self.output.append(line)

        self.pump = threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True)
        self.pump.start()

    def wait_healthy(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server not healthy")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if self.pump is not None:
            self.pump.join(timeout=5)  # EOF once the server (and anything it started) is gone
        # Closing under a reader still blocked in read() would wait for it; leave that one be.
        if self.proc.stdout is not None and (self.pump is None or not self.pump.is_alive()):
            self.proc.stdout.close()
        self.proc, self.pump = None, None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def shutdown(self) -> None:
        """Stop the server, then end the workers it launched with their process groups.
        Workers outlive a stopped server on purpose (the next start adopts them), so whoever
        is done with a server for good ends them: a fixture's teardown, or a test's finally."""
        self.stop()
        end_processes_mentioning(self.data_dir)

    def restart(self) -> Server:
        self.stop()
        return self.start(port=self.port)

    def admin(self, *args: str, input: str | None = None) -> str:
        """`ckrv admin --data-dir DATA ARGS`, run in this process (tests/support/inprocess.py:
        as the real command, without starting an interpreter); its stdout."""
        cli = InProcessCli(config_dir=self.config_dir)
        result = cli.run("admin", "--data-dir", str(self.data_dir), *args, input=input)
        if result.returncode != 0:
            raise RuntimeError(f"ckrv admin {args} failed: {result.stderr}")
        return result.stdout

    def add_user(self, email: str, tier: str = "free", password: str = "correct-horse-1") -> str:
        """Create a user and return an API token for them: what `ckrv admin user add` and
        `ckrv admin token create` do, called in this process (the CLI tests run the commands)."""
        from ckrv.server.admin import add_user, create_token

        add_user(self.data_dir, email, email.split("@")[0], tier, password)
        return create_token(self.data_dir, email, None)[1]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=30)


@dataclass
class Cli:
    """Runs `python -m ckrv ...` as a real process against a server, with isolated config."""

    config_dir: Path
    api_url: str = ""
    token: str | None = None
    cwd: Path | None = None

    def env(self, **extra: str) -> dict[str, str]:
        env = base_env(self.config_dir)
        if self.api_url:
            env["CHAKRAVARTI_API_URL"] = self.api_url
        if self.token:
            env["CKRV_TOKEN"] = self.token
        env.update(extra)
        return env

    def run(
        self, *args: str, input: str | None = None, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "-m", "ckrv", *args],
            capture_output=True,
            text=True,
            env=self.env(**env),
            cwd=self.cwd or ROOT,
            input=input,
            timeout=timeout,
        )

    def json(self, *args: str, **env: str) -> Any:
        result = self.run(*args, "--json", **env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def git(cwd: Path, *args: str, check: bool = True) -> str:
    env = base_env(Path("/nonexistent"))
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise RuntimeError(f"git {args} failed: {result.stderr}")
    return result.stdout.strip()


def make_repo(root: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A bare repository at root/origin.git with one commit of `files` on `branch`."""
    work = root / "seed"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", branch)
    for name, content in (
        files or {"README.md": "# sample\n", "app.py": "print('hello')\n"}
    ).items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "initial")
    bare = root / "origin.git"
    git(root, "clone", "-q", "--bare", str(work), str(bare))
    shutil.rmtree(work)
    return bare


def wait_for(
    predicate: Any, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


# --- in-process level: the ASGI app under starlette's TestClient, on a tmp data dir ---

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
PASSWORD = "correct-horse-1"


@contextmanager
def app_client(data_dir: Path, clock: Clock | None = None, **overrides: Any) -> Iterator[Any]:
    """A TestClient (lifespan started) over `create_app` with `overrides` applied to Settings,
    and the server reading the time from `clock` when one is given."""
    from starlette.testclient import TestClient

    from ckrv.server.app import create_app
    from ckrv.settings import Settings

    app = create_app(Settings(data_dir=data_dir, **overrides))
    if clock is not None:
        app.services.clock = clock
    with TestClient(app, base_url="http://127.0.0.1:8420") as client:
        yield client


def add_user_direct(
    data_dir: Path, email: str, tier: str = "free", password: str = PASSWORD
) -> str:
    from ckrv.server.admin import add_user, init_data_dir

    init_data_dir(data_dir)  # as `ckrv admin init` (tests add users before the app starts)
    return add_user(data_dir, email, email.split("@")[0], tier, password)


def device_login(
    client: Any, data_dir: Path, email: str, client_id: str = "ckrv-cli"
) -> dict[str, Any]:
    """Run the device flow in-process, approving with `ckrv admin device approve`'s code path."""
    from ckrv.server.admin import approve_device

    grant = client.post("/v1/auth/device", json={"client_id": client_id}).json()
    approve_device(data_dir, grant["user_code"], email)
    response = client.post(
        "/v1/auth/token",
        json={
            "grant_type": DEVICE_GRANT,
            "device_code": grant["device_code"],
            "client_id": client_id,
        },
    )
    assert response.status_code == 200, response.text
    return dict(response.json())
