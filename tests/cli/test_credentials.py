"""`ckrv cloud credentials` and `ckrv cloud secrets` in-process against a real server: values
come from stdin, a file or a hidden prompt (on a real terminal: `ckrv` as a process), and never
show up in any output."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.helpers import PYTHON, ROOT, Cli, Server
from tests.support.inprocess import InProcessCli, Ran

TOKEN = "glpat-SENTINELcli0123456789ab"
SECRET = "sk-ant-SENTINEL-cli-0123456789"


@pytest.fixture
def ckrv(live: Server, tmp_path: Path) -> InProcessCli:
    """The CLI pointed at the module's server, nobody logged in."""
    return InProcessCli(config_dir=tmp_path / "config", api_url=live.api_url)


@pytest.fixture
def user_ckrv(live: Server, ckrv: InProcessCli, request: pytest.FixtureRequest) -> InProcessCli:
    """`ckrv` as a user of its own (the server is shared by the module's tests)."""
    ckrv.token = live.add_user(f"{request.node.name[:40]}@example.com")
    return ckrv


def assert_quiet(result: Ran, *values: str) -> None:
    for value in values:
        assert value not in result.stdout and value not in result.stderr


def test_credentials_add_list_remove(user_ckrv: InProcessCli) -> None:
    added = user_ckrv.run(
        "cloud",
        "credentials",
        "add",
        "--name",
        "gitlab-work",
        "--provider",
        "gitlab",
        input=TOKEN + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert "added credential gitlab-work (gitlab pat)" in added.stdout
    listed = user_ckrv.json("cloud", "credentials", "list")
    assert [
        (c["name"], c["provider"], c["credential_type"], c["last_used_at"]) for c in listed
    ] == [("gitlab-work", "gitlab", "pat", None)]
    text = user_ckrv.run("cloud", "credentials", "list")
    assert "gitlab-work" in text.stdout and "never" in text.stdout
    duplicate = user_ckrv.run(
        "cloud", "credentials", "add", "--name", "gitlab-work", input="x" * 20
    )
    assert duplicate.returncode == 1 and "already have a credential" in duplicate.stderr
    removed = user_ckrv.run("cloud", "credentials", "remove", "gitlab-work")
    assert removed.returncode == 0 and "removed credential gitlab-work" in removed.stdout
    missing = user_ckrv.run("cloud", "credentials", "remove", "gitlab-work")
    assert missing.returncode == 4 and "no credential named 'gitlab-work'" in missing.stderr
    for result in (added, text, duplicate, removed, missing):
        assert_quiet(result, TOKEN)


def test_a_deploy_key_file_is_recognised(user_ckrv: InProcessCli, tmp_path: Path) -> None:
    key = tmp_path / "deploy_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    added = user_ckrv.run(
        "cloud", "credentials", "add", "--name", "deploy", "--from-file", str(key), "--json"
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["credential_type"] == "deploy_key"
    body = key.read_text().splitlines()[1]
    assert_quiet(added, body)


def test_credentials_refuse_bad_input_with_a_reason(user_ckrv: InProcessCli) -> None:
    empty = user_ckrv.run("cloud", "credentials", "add", "--name", "empty", input="\n")
    assert empty.returncode == 2 and "empty" in empty.stderr
    bad_name = user_ckrv.run("cloud", "credentials", "add", "--name", "Bad Name", input=TOKEN)
    assert bad_name.returncode == 1 and "a-z, 0-9" in bad_name.stderr
    assert_quiet(bad_name, TOKEN)


def test_secrets_set_list_remove(user_ckrv: InProcessCli, tmp_path: Path) -> None:
    created = user_ckrv.run("cloud", "secrets", "set", "ANTHROPIC_API_KEY", input=SECRET + "\n")
    assert created.returncode == 0 and "created secret ANTHROPIC_API_KEY" in created.stdout
    value_file = tmp_path / "value"
    value_file.write_text(SECRET + "-v2\n")
    replaced = user_ckrv.run(
        "cloud", "secrets", "set", "ANTHROPIC_API_KEY", "--from-file", str(value_file)
    )
    assert replaced.returncode == 0 and "replaced secret ANTHROPIC_API_KEY" in replaced.stdout
    assert [s["name"] for s in user_ckrv.json("cloud", "secrets", "list")] == ["ANTHROPIC_API_KEY"]
    bad = user_ckrv.run("cloud", "secrets", "set", "not-a-var", input=SECRET)
    assert bad.returncode == 1 and "environment variable name" in bad.stderr
    removed = user_ckrv.run("cloud", "secrets", "remove", "ANTHROPIC_API_KEY")
    assert removed.returncode == 0
    missing = user_ckrv.run("cloud", "secrets", "remove", "ANTHROPIC_API_KEY")
    assert missing.returncode == 4 and "no secret named" in missing.stderr
    for result in (created, replaced, bad, removed, missing):
        assert_quiet(result, SECRET)


def test_not_logged_in_is_exit_code_3(ckrv: InProcessCli) -> None:
    result = ckrv.run("cloud", "secrets", "list")
    assert result.returncode == 3 and "not logged in" in result.stderr


# Runs in the child: a new session whose controlling terminal is the pty, then the CLI.
_ON_TERMINAL = """
import os, sys
os.setsid()
fd = os.open(sys.argv[1], os.O_RDWR)  # a session leader opening a tty makes it its terminal
for target in (0, 1, 2):
    os.dup2(fd, target)
os.execv(sys.executable, [sys.executable, "-m", "ckrv", *sys.argv[2:]])
"""


def _run_on_a_terminal(ckrv: InProcessCli, args: list[str], answer: str) -> tuple[int, str]:
    """Run the CLI as a process with a pseudo-terminal as its controlling terminal; type
    `answer` at the prompt. Returns the exit code and everything the terminal showed."""
    master, slave = os.openpty()
    process = Cli(config_dir=ckrv.config_dir, api_url=ckrv.api_url, token=ckrv.token)
    proc = subprocess.Popen(
        [PYTHON, "-c", _ON_TERMINAL, os.ttyname(slave), *args],
        env=process.env(),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(slave,),
    )  # held open until the child has the terminal
    os.close(slave)
    shown, answered = b"", False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 1024)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
        if not answered and b"(input hidden)" in shown:
            os.write(master, answer.encode() + b"\n")
            answered = True
    os.close(master)
    return proc.wait(timeout=30), shown.decode(errors="replace")


def test_a_secret_typed_at_a_hidden_prompt_is_not_echoed(user_ckrv: InProcessCli) -> None:
    code, shown = _run_on_a_terminal(user_ckrv, ["cloud", "secrets", "set", "TYPED_KEY"], SECRET)
    assert code == 0, shown
    assert "Value (input hidden)" in shown and "created secret TYPED_KEY" in shown
    assert SECRET not in shown
    assert [s["name"] for s in user_ckrv.json("cloud", "secrets", "list")] == ["TYPED_KEY"]


def test_a_deploy_key_cannot_be_typed_at_a_prompt(user_ckrv: InProcessCli) -> None:
    code, shown = _run_on_a_terminal(
        user_ckrv,
        ["cloud", "credentials", "add", "--name", "k", "--credential-type", "deploy_key"],
        "",
    )
    assert code == 2 and "--from-file" in shown
