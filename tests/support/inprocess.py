"""`ckrv ARGS` run in this process: the real argument parsing and the real exit-code mapping
(`ckrv.cli.main.run_cli`), with captured streams. Each call gets its own environment (the
process's, less every CKRV_/CHAKRAVARTI_ setting, plus the call's), working directory, stdin,
umask, a keyring that always fails, and tempfile's directory looked up afresh; all of it is put
back afterwards, so nothing leaks from one call to the next."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ckrv.cli.iostreams import IOStreams
from ckrv.cli.main import run_cli

ROOT = Path(__file__).resolve().parents[2]
FIXED_ENV = {
    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    "NO_COLOR": "1",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


@dataclass
class Ran:
    """What a command did: as subprocess.CompletedProcess has it, for tests written for both."""

    returncode: int
    stdout: str
    stderr: str


@dataclass
class InProcessCli:
    """Runs `ckrv ...` in-process against a server, with an isolated config dir."""

    config_dir: Path
    api_url: str = ""
    token: str | None = None
    cwd: Path | None = None
    env_extra: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str | None]:
        """The call's environment as changes to os.environ (None: unset)."""
        env: dict[str, str | None] = {
            k: None for k in os.environ if k.startswith(("CKRV_", "CHAKRAVARTI_"))
        }
        env.update(FIXED_ENV)
        env["CKRV_CONFIG_DIR"] = str(self.config_dir)
        if self.api_url:
            env["CHAKRAVARTI_API_URL"] = self.api_url
        if self.token:
            env["CKRV_TOKEN"] = self.token
        env.update(self.env_extra)
        env.update(extra)
        return env

    def run(
        self,
        *args: str,
        input: str | None = None,
        timeout: float | None = None,  # accepted for the subprocess Cli's signature; unused
        umask: int | None = None,
        **env: str,
    ) -> Ran:
        with isolated(self.env(**env), self.cwd or ROOT, input, umask) as captured:
            code = run_cli(list(args), IOStreams.system())
            return Ran(code, *captured())

    __call__ = run

    def start(self, *args: str, umask: int | None = None, **env: str) -> Running:
        """`ckrv ARGS` in a thread, for a test that acts while it runs (e.g. approves a login
        it printed a code for). Nothing else may run in-process until it ends."""
        running = Running()

        def target() -> None:
            with isolated(self.env(**env), self.cwd or ROOT, None, umask) as captured:
                running.captured = captured
                running.started.set()
                try:
                    code = run_cli(list(args), IOStreams.system())
                except BaseException as exc:  # shown by wait(), in the test's thread
                    running.error = exc
                    return
                running.result = Ran(code, *captured())

        running.thread = threading.Thread(target=target, daemon=True)
        running.thread.start()
        running.started.wait(timeout=30)
        return running

    def json(self, *args: str, **env: str) -> Any:
        result = self.run(*args, "--json", **env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@dataclass
class Running:
    """A command started by InProcessCli.start."""

    thread: threading.Thread | None = None
    started: threading.Event = field(default_factory=threading.Event)
    captured: Callable[[], tuple[str, str]] | None = None
    result: Ran | None = None
    error: BaseException | None = None

    def stdout(self) -> str:
        """What it has written to stdout so far."""
        return self.captured()[0] if self.captured else ""

    def wait(self, timeout: float = 120) -> Ran:
        assert self.thread is not None
        self.thread.join(timeout)
        if self.error is not None:
            raise self.error
        assert self.result is not None, "the command did not end in time"
        return self.result


@contextmanager
def isolated(
    env: Mapping[str, str | None], cwd: Path, input: str | None, umask: int | None
) -> Iterator[Any]:
    """sys.std* captured and os.environ changed (click's isolation), the cwd, umask, keyring
    and tempfile directory set; all restored on the way out. Yields a function returning
    (stdout, stderr) so far."""
    import keyring
    from keyring.backends import fail

    runner = CliRunner()
    previous_dir, previous_keyring = Path.cwd(), keyring.get_keyring()
    previous_umask = os.umask(umask) if umask is not None else None
    tz_changes = "TZ" in env
    try:
        with runner.isolation(input=input, env=dict(env)) as (out, err, _mixed):
            os.chdir(cwd)
            keyring.set_keyring(fail.Keyring())
            tempfile.tempdir = None  # looked up again under this call's TMPDIR
            if tz_changes:
                time.tzset()
            writers = (sys.stdout, sys.stderr)  # text wrappers over out and err

            def captured() -> tuple[str, str]:
                for writer in writers:
                    writer.flush()  # print() does not, unlike click.echo
                return out.getvalue().decode(), err.getvalue().decode()

            yield captured
    finally:
        os.chdir(previous_dir)
        keyring.set_keyring(previous_keyring)
        tempfile.tempdir = None
        if previous_umask is not None:
            os.umask(previous_umask)
        if tz_changes:
            time.tzset()
