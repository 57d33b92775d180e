"""Text an agent (or a spec's author) wrote reaches the terminal with its control characters
shown, not acted on: `ckrv logs`, `ckrv status` and the error of a failed job, against a real
server whose scripted agent prints a title change, a screen clear and cursor moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import Server, make_repo
from tests.support.inprocess import InProcessCli
from tests.support.jobhelpers import submit, wait_status
from tests.support.servers import start_server

TITLE_CHANGE = "\x1b]0;owned\x07"
SCREEN_CLEAR = "\x1b[2J\x1b[H"
CURSOR_MOVE = "\x1b[5;5H\x9b1A"
SPEC = (
    f"# Retitle {TITLE_CHANGE} me\n"
    f"print {SCREEN_CLEAR}cleared\tand tabbed\n"
    f"stderr {CURSOR_MOVE}moved\n"
    "exit 3\n"
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("srv"))
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def failed_job(srv: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(token, job id) of a job whose agent printed escape sequences, then failed."""
    token = srv.add_user("escapes@example.com", tier="pro")
    repo = make_repo(tmp_path_factory.mktemp("repo"))
    with srv.client(token) as api:
        job = submit(api, SPEC, repo)
        assert wait_status(api, job["id"])["status"] == "failed"
    return token, job["id"]


def ckrv_for(srv: Server, token: str, tmp_path: Path) -> InProcessCli:
    return InProcessCli(config_dir=tmp_path / "config", api_url=srv.api_url, token=token)


def assert_inert(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, repr(text)


def test_logs_show_escape_sequences_as_text(
    srv: Server, failed_job: tuple[str, str], tmp_path: Path
) -> None:
    token, job_id = failed_job
    result = ckrv_for(srv, token, tmp_path).run("logs", job_id)
    assert result.returncode == 0, result.stderr
    assert_inert(result.stdout)
    assert "^[[2J^[[Hcleared\tand tabbed" in result.stdout  # tabs kept in a log line
    assert "^[[5;5H\\x9b1Amoved" in result.stdout


def test_status_shows_title_and_error_escapes_as_text(
    srv: Server, failed_job: tuple[str, str], tmp_path: Path
) -> None:
    token, job_id = failed_job
    result = ckrv_for(srv, token, tmp_path).run("status", job_id)
    assert result.returncode == 0, result.stderr
    assert_inert(result.stdout)
    assert "Retitle ^[]0;owned^G me" in result.stdout
    assert "^[[5;5H\\x9b1Amoved" in result.stdout  # the error quotes the agent's last lines


def test_a_waited_on_failure_prints_its_error_as_text(
    srv: Server, failed_job: tuple[str, str], tmp_path: Path
) -> None:
    token, job_id = failed_job
    result = ckrv_for(srv, token, tmp_path).run("logs", job_id, "-f")
    assert result.returncode == 7
    assert_inert(result.stdout + result.stderr)
    assert "^[[5;5H" in result.stderr


def test_jobs_lists_the_title_on_one_line_as_text(
    srv: Server, failed_job: tuple[str, str], tmp_path: Path
) -> None:
    token, _ = failed_job
    result = ckrv_for(srv, token, tmp_path).run("jobs")
    assert result.returncode == 0, result.stderr
    assert_inert(result.stdout)
    assert "Retitle ^[]0;owned^G me" in result.stdout
