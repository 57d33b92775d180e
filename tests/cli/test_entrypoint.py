"""`ckrv` as the real executable (`python -m ckrv`), a few smoke tests of what only a process
shows: `--help` through the entry point, and the exit codes `main` hands the shell. Every other
command-line test runs the command in-process; start-up cost (what a command imports) is checked
in test_login.py, and interrupting a command in test_demo.py."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tests.support.helpers import PYTHON, ROOT, base_env


def ckrv(*args: str, config_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "ckrv", *args],
        capture_output=True,
        text=True,
        env={**base_env(config_dir), **env},
        cwd=ROOT,
        timeout=60,
    )


def test_help_runs_as_a_real_process() -> None:
    result = ckrv("demo", "--help", config_dir=ROOT / "nonexistent")
    assert result.returncode == 0
    example = result.stdout.split("Example:", 1)[1]
    assert "ckrv demo\n" in example and "ckrv demo --keep\n" in example


def test_the_process_exits_with_the_documented_codes(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    assert ckrv("--version", config_dir=tmp_path).stdout.startswith("ckrv ")
    usage = ckrv("no-such-command", config_dir=tmp_path)
    assert usage.returncode == 2 and "No such command" in usage.stderr
    anonymous = ckrv("--api-url", url, "cloud", "whoami", config_dir=tmp_path)
    # no login for that URL, and nothing answers there: the server is what is wrong
    assert anonymous.returncode == 6 and f"cannot reach the ckrv server at {url}" in (
        anonymous.stderr
    )
    unreachable = ckrv("jobs", config_dir=tmp_path, CHAKRAVARTI_API_URL=url, CKRV_TOKEN="x")
    assert (
        unreachable.returncode == 6
        and f"cannot reach the ckrv server at {url}" in unreachable.stderr
    )
