"""The `ckrv` command in-process (the real exit-code mapping, `ckrv.cli.main.run_cli`): help,
admin users, tiers and tokens, and the exit codes for not being logged in (3) and an unreachable
server (6)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from tests.support.helpers import DEVICE_GRANT, PASSWORD, Server, app_client
from tests.support.inprocess import InProcessCli, Ran


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir made by `ckrv admin init` (the other admin commands need one)."""
    from ckrv.server.admin import init_data_dir

    init_data_dir(tmp_path / "data")
    return tmp_path / "data"


def admin(ckrv: InProcessCli, data_dir: Path, *args: str, input: str | None = None) -> Ran:
    return ckrv("admin", "--data-dir", str(data_dir), *args, input=input)


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_help_lists_commands_and_version(ckrv: InProcessCli) -> None:
    result = ckrv("--help")
    assert result.returncode == 0
    for command in ("cloud", "serve", "admin", "run", "status", "logs", "pull"):
        assert re.search(rf"^\s+{command}\s", result.stdout, re.M), command
    assert ckrv("--version").stdout.startswith("ckrv ")
    cloud = ckrv("cloud", "--help")
    assert cloud.returncode == 0 and "login" in cloud.stdout and "whoami" in cloud.stdout
    assert ckrv("no-such-command").returncode == 2


def test_user_add_list_and_set_tier(ckrv: InProcessCli, data_dir: Path) -> None:
    added = admin(
        ckrv,
        data_dir,
        "user",
        "add",
        "ada@example.com",
        "--name",
        "Ada",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert added.returncode == 0 and "created user ada@example.com (free)" in added.stdout
    prompted = admin(
        ckrv,
        data_dir,
        "user",
        "add",
        "bob@example.com",
        "--tier",
        "enterprise",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert prompted.returncode == 0, prompted.stderr
    assert PASSWORD not in prompted.stdout  # the prompt hides what is typed

    listing = admin(ckrv, data_dir, "user", "list")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].split() == [
        "EMAIL",
        "NAME",
        "TIER",
        "JOBS",
        "LEFT",
        "CYCLE",
        "ENDS",
        "ROLE",
        "STATE",
    ]
    assert lines[1].split()[:4] == ["ada@example.com", "Ada", "free", "10"]
    assert lines[2].split()[:3] == ["bob@example.com", "enterprise", "1000"]

    assert admin(ckrv, data_dir, "user", "set-tier", "ada@example.com", "pro").returncode == 0
    users = json.loads(admin(ckrv, data_dir, "user", "list", "--json").stdout)
    ada = next(u for u in users if u["email"] == "ada@example.com")
    assert ada["subscription_tier"] == "pro" and ada["job_quota_remaining"] == 100
    assert ada["jobs_used"] == 0 and ada["name"] == "Ada"
    assert {"id", "billing_cycle_end", "created_at"} <= set(ada)
    assert "password" not in json.dumps(users)


@pytest.mark.parametrize(
    ("args", "input", "code", "message"),
    [
        (["user", "add", "not-an-email", "--password-stdin"], PASSWORD, 2, "not an email"),
        (["user", "add", "x@example.com", "--password-stdin"], "short", 2, "at least 8"),
        (["user", "add", "x@example.com", "--tier", "gold"], None, 2, "gold"),
        (["user", "set-tier", "nobody@example.com", "pro"], None, 4, "no user with email"),
        (["token", "create", "nobody@example.com"], None, 4, "ckrv admin user list"),
        (["token", "revoke", "0123456789ab"], None, 4, "no active API token"),
        (["device", "approve", "BCDF-GHJK", "--email", "ada@example.com"], None, 4, "no pending"),
    ],
)
def test_admin_errors_have_exit_codes_and_messages(
    ckrv: InProcessCli, data_dir: Path, args: list[str], input: str | None, code: int, message: str
) -> None:
    admin(ckrv, data_dir, "user", "add", "ada@example.com", "--password-stdin", input=PASSWORD)
    result = admin(ckrv, data_dir, *args, input=input)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicate_user_is_refused(ckrv: InProcessCli, data_dir: Path) -> None:
    admin(ckrv, data_dir, "user", "add", "ada@example.com", "--password-stdin", input=PASSWORD)
    again = admin(
        ckrv, data_dir, "user", "add", "ADA@example.com", "--password-stdin", input=PASSWORD
    )
    assert again.returncode == 2 and "already exists" in again.stderr


def test_token_create_list_revoke(ckrv: InProcessCli, data_dir: Path) -> None:
    admin(ckrv, data_dir, "user", "add", "ci@example.com", "--password-stdin", input=PASSWORD)
    created = admin(ckrv, data_dir, "token", "create", "ci@example.com", "--expires", "30d")
    assert created.returncode == 0
    assert re.fullmatch(r"ckrv_pat_[\w-]{43}\n", created.stdout)  # the token alone on stdout
    token_id = re.search(r"token id (\w+)", created.stderr).group(1)  # type: ignore[union-attr]
    never = admin(ckrv, data_dir, "token", "create", "ci@example.com", "--expires", "never")
    assert never.returncode == 0

    listed = json.loads(admin(ckrv, data_dir, "token", "list", "--json").stdout)
    assert listed[0]["id"] == token_id
    assert created.stdout.strip() not in json.dumps(listed)  # ids and dates, never the token
    assert listed[1]["expires_at"] is None

    assert admin(ckrv, data_dir, "token", "revoke", token_id).returncode == 0
    table = admin(ckrv, data_dir, "token", "list", "--email", "ci@example.com").stdout
    assert re.search(rf"^{token_id}\s.*revoked$", table, re.M)
    bad = admin(ckrv, data_dir, "token", "create", "ci@example.com", "--expires", "soon")
    assert bad.returncode == 2 and "invalid duration" in bad.stderr


def test_device_approve_from_the_shell(ckrv: InProcessCli, data_dir: Path) -> None:
    with app_client(data_dir) as client:
        admin(ckrv, data_dir, "user", "add", "ada@example.com", "--password-stdin", input=PASSWORD)
        grant = client.post("/v1/auth/device", json={"client_id": "ckrv-cli"}).json()
        typed = grant["user_code"].lower().replace("-", " ")
        approved = admin(ckrv, data_dir, "device", "approve", typed, "--email", "ada@example.com")
        assert approved.returncode == 0 and "approved" in approved.stdout
        poll = {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]}
        tokens = client.post("/v1/auth/token", json={**poll, "client_id": "ckrv-cli"})
        assert tokens.status_code == 200
        again = admin(ckrv, data_dir, "device", "approve", typed, "--email", "ada@example.com")
        assert again.returncode == 4  # a code is approved once


def test_not_logged_in_exits_3_naming_login(ckrv: InProcessCli, live: Server) -> None:
    url = live.api_url  # a server that answers, with no login for it here
    for args in (["cloud", "whoami"], ["cloud", "whoami", "--json"]):
        result = ckrv("--api-url", url, *args)
        assert result.returncode == 3
        assert f"not logged in to {url}" in result.stderr
        assert "ckrv cloud login" in result.stderr
        assert result.stdout == ""


def test_unreachable_server_exits_6_naming_the_url(ckrv: InProcessCli) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    whoami = ckrv("cloud", "whoami", CHAKRAVARTI_API_URL=url + "/", CKRV_TOKEN="ckrv_pat_x")
    assert whoami.returncode == 6
    assert f"cannot reach the ckrv server at {url}" in whoami.stderr
    assert "ckrv serve" in whoami.stderr and "CHAKRAVARTI_API_URL" in whoami.stderr
    assert "ckrv_pat_x" not in whoami.stderr  # the token is never echoed
    login = ckrv("--api-url", url, "cloud", "login", "--no-browser")
    assert login.returncode == 6 and url in login.stderr
