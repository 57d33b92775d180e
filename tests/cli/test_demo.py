"""`ckrv demo` as a user runs it (in-process; as a real process where it is interrupted or
leaves its server running): it starts a real server, runs a real job with the bundled example
agent, pulls the diff, and leaves no process and no file behind (also when interrupted);
`--keep` leaves a server that the printed commands really work against."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ckrv.worker.agents.example_agent import file_blocks, safe_path, spec_title
from tests.support.helpers import PYTHON, ROOT, base_env, wait_for
from tests.support.inprocess import InProcessCli, Ran
from tests.support.processes import processes_mentioning

pytestmark = pytest.mark.slow


def demo_env(tmp: Path, config_dir: Path) -> dict[str, str]:
    env = base_env(config_dir)
    env["TMPDIR"] = str(tmp)  # the demo's temporary directory goes here, so we can watch it
    return env


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    path = tmp_path / "tmp"
    path.mkdir()
    return path


def run_demo(tmp: Path, config_dir: Path) -> Ran:
    """`ckrv demo` in-process, its temporary directory under `tmp`."""
    return InProcessCli(config_dir=config_dir).run("demo", TMPDIR=str(tmp))


def run_demo_process(tmp: Path, config_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`ckrv demo ARGS` as a process (with --keep the server it starts outlives it)."""
    return subprocess.run(
        [PYTHON, "-m", "ckrv", "demo", *args],
        capture_output=True,
        text=True,
        env=demo_env(tmp, config_dir),
        cwd=ROOT,
        timeout=120,
    )


def test_demo_runs_the_whole_flow_and_leaves_nothing_behind(tmp: Path, config_dir: Path) -> None:
    started = time.monotonic()
    result = run_demo(tmp, config_dir)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for step in range(1, 8):
        assert re.search(rf"^{step}\. ", out, re.M), f"step {step} missing:\n{out}"
    assert "NOT an AI model" in out  # the agent says plainly what it is...
    assert "configure a real agent" in out  # ...and how to use a real one
    assert re.search(r"^\d\d:\d\d:\d\d example: creating test_hello\.py", out, re.M)  # live log
    assert "test_greets_by_name" in out and "OK" in out  # the tests the agent wrote ran
    assert "2 files changed, 17 insertions(+), 1 deletion(-)" in out  # the diffstat...
    assert "+def greet(name: str) -> str:" in out  # ...and the diff itself
    assert result.stderr == ""
    assert list(tmp.iterdir()) == [], "the demo left files behind"
    assert processes_mentioning(tmp) == [], "the demo left processes behind"
    assert elapsed < 60


def test_demo_keep_leaves_a_server_the_printed_commands_work_against(
    tmp: Path, config_dir: Path
) -> None:
    result = run_demo_process(tmp, config_dir, "--keep")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    api_url = re.search(r"export CHAKRAVARTI_API_URL=(\S+)", out).group(1)  # type: ignore[union-attr]
    token = re.search(r"export CKRV_TOKEN=(\S+)", out).group(1)  # type: ignore[union-attr]
    stop = re.search(r"kill (\d+) && rm -rf (\S+)", out)
    assert stop is not None, out
    pid, root = int(stop.group(1)), Path(stop.group(2))
    try:
        assert root.parent == tmp and (root / "sample" / "test_hello.py").exists()
        user = InProcessCli(config_dir=config_dir, api_url=api_url, token=token)
        listing = user.run("jobs")
        assert listing.returncode == 0, listing.stderr
        assert "succeeded" in listing.stdout and "example" in listing.stdout
        job = re.search(r"ckrv status ([0-9a-f]{8})", out).group(1)  # type: ignore[union-attr]
        status = user.run("status", job)
        assert status.returncode == 0 and "succeeded" in status.stdout, status.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        wait_for(
            lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid),
            timeout=20,
            what="the kept server to stop",
        )
        subprocess.run(["rm", "-rf", str(root)], check=True)
    with pytest.raises(httpx.TransportError):
        httpx.get(api_url.removesuffix("/v1") + "/healthz", timeout=2)
    assert processes_mentioning(tmp) == []


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _default_sigint() -> None:
    """Ctrl-C's default for the demo, also when the tests run as a background job (whose
    children inherit SIGINT ignored, and Python then never raises KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupted_demo_exits_130_and_cleans_up(tmp: Path, config_dir: Path) -> None:
    proc = subprocess.Popen(
        [PYTHON, "-m", "ckrv", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=demo_env(tmp, config_dir),
        cwd=ROOT,
        preexec_fn=_default_sigint,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # interrupt while the agent works, mid-job
        seen.append(line)
        if "example: reading the spec" in line:
            proc.send_signal(signal.SIGINT)
            break
    else:
        pytest.fail("the job never started:\n" + "".join(seen))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(seen) + out + err
    assert list(tmp.iterdir()) == [], "the interrupted demo left files behind"
    assert processes_mentioning(tmp) == [], "the interrupted demo left processes behind"


def test_example_agent_reads_file_blocks_and_stays_inside_the_checkout(tmp_path: Path) -> None:
    spec = "# Title here\n\nprose\n\n```python file=a/b.py\nx = 1\n```\n\n```\nno file\n```\n"
    assert spec_title(spec) == "Title here"
    assert [(b.path, b.content) for b in file_blocks(spec)] == [("a/b.py", "x = 1\n")]
    with pytest.raises(ValueError, match="outside the repository"):
        safe_path(tmp_path, "../escape.py")
    with pytest.raises(ValueError, match="outside the repository"):
        safe_path(tmp_path, "/etc/passwd")


def test_example_agent_without_file_blocks_changes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "spec.md"
    spec.write_text("# Just prose\n\nMake it faster.\n")
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [PYTHON, "-m", "ckrv.worker.agents.example_agent", str(spec)],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0
    assert "not an ai model" in result.stdout.lower()
    assert "nothing to do" in result.stdout
    assert list(work.iterdir()) == []
