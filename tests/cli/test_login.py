"""Login, token storage and refresh: `ckrv serve` on loopback, the CLI in-process; as processes
where processes are the point (parallel refreshes under the file lock, what a start imports)."""

from __future__ import annotations

import concurrent.futures
import json
import re
import sqlite3
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ckrv.server.admin import approve_device
from tests.support.helpers import PYTHON, ROOT, Cli, Server, wait_for
from tests.support.inprocess import InProcessCli

EMAIL = "ada@example.com"
KEYRING_NOTICE = "no OS keyring is available"


def server_config(directory: Path, **server: str | int) -> Path:
    path = directory / "ckrv.toml"
    lines = [f"{key} = {json.dumps(value)}" for key, value in server.items()]
    path.write_text("[server]\n" + "\n".join(lines) + "\n")
    return path


def start_server(tmp_path: Path, **server: str | int) -> Server:
    config_dir = tmp_path / "server-config"
    config_dir.mkdir(exist_ok=True)
    config = server_config(tmp_path, device_poll_interval=1, **server)
    return Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    server = start_server(tmp_path)
    server.add_user(EMAIL)
    yield server
    assert server.stop() == 0


@pytest.fixture
def user_ckrv(srv: Server, tmp_path: Path) -> InProcessCli:
    """The CLI of a user whose config dir does not exist yet."""
    return InProcessCli(config_dir=tmp_path / "home" / ".config" / "ckrv", api_url=srv.api_url)


def login(
    ckrv: InProcessCli, srv: Server, email: str = EMAIL, umask: int | None = None
) -> tuple[str, str]:
    """`ckrv cloud login --no-browser`, approved as `ckrv admin device approve` does once it
    has printed its code. (stdout, stderr)"""
    running = ckrv.start("cloud", "login", "--no-browser", umask=umask)
    code = wait_for(
        lambda: re.search(r"enter the code ([A-Z]{4}-[A-Z]{4})", running.stdout()),
        timeout=30,
        what="the login to print its code",
    )
    approve_device(srv.data_dir, code.group(1), email)
    result = running.wait()
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, result.stderr


def stored(ckrv: InProcessCli | Cli) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ckrv.config_dir / "tokens.json").read_text())
    return data


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_stores_tokens_and_whoami_shows_the_user(
    srv: Server, user_ckrv: InProcessCli
) -> None:
    out, err = login(user_ckrv, srv)
    assert f"Open {srv.url}/activate and enter the code" in out
    assert f"{srv.url}/activate?user_code=" in out
    assert f"Logged in to {srv.api_url} as {EMAIL} (free tier, 10 jobs left this cycle)" in out

    whoami = user_ckrv.run("cloud", "whoami")
    assert whoami.returncode == 0, whoami.stderr
    fields = dict(re.findall(r"^(\w[\w ]*):\s+(.*)$", whoami.stdout, re.M))
    assert fields["email"] == EMAIL and fields["name"] == "ada" and fields["tier"] == "free"
    assert fields["jobs left"] == "10" and fields["server"] == srv.api_url
    assert re.match(r"\d{4}-\d\d-\d\dT", fields["cycle ends"])

    profile = user_ckrv.json("cloud", "whoami")
    assert profile["email"] == EMAIL and profile["server"] == srv.api_url
    assert profile["job_quota_remaining"] == 10

    # Tokens never reach the terminal.
    tokens = stored(user_ckrv)[srv.api_url]
    for output in (out, err, whoami.stdout, whoami.stderr):
        assert tokens["access_token"] not in output and tokens["refresh_token"] not in output


def test_without_keyring_tokens_go_to_a_private_file_with_one_notice(
    srv: Server, user_ckrv: InProcessCli
) -> None:
    _out, err = login(user_ckrv, srv, umask=0)  # a careless umask must not leak the file
    assert err.count(KEYRING_NOTICE) == 1
    assert mode(user_ckrv.config_dir) == 0o700
    assert mode(user_ckrv.config_dir / "tokens.json") == 0o600
    assert set(stored(user_ckrv)) == {srv.api_url}

    # The notice is one-time: the next login (and every later save) stays quiet.
    _out, again = login(user_ckrv, srv, umask=0)
    assert KEYRING_NOTICE not in again
    assert mode(user_ckrv.config_dir / "tokens.json") == 0o600
    whoami = user_ckrv.run("cloud", "whoami")
    assert whoami.returncode == 0 and KEYRING_NOTICE not in whoami.stderr


def test_logout_revokes_on_the_server(srv: Server, user_ckrv: InProcessCli) -> None:
    login(user_ckrv, srv)
    refresh_token = stored(user_ckrv)[srv.api_url]["refresh_token"]
    out = user_ckrv.run("cloud", "logout")
    assert out.returncode == 0 and f"logged out of {srv.api_url}" in out.stdout
    assert srv.api_url not in stored(user_ckrv)
    with srv.client() as api:
        body = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        response = api.post("/auth/refresh", json=body)
    assert response.status_code == 400 and "revoked" in response.json()["message"]
    whoami = user_ckrv.run("cloud", "whoami")
    assert whoami.returncode == 3 and "ckrv cloud login" in whoami.stderr
    again = user_ckrv.run("cloud", "logout")
    assert again.returncode == 0 and "not logged in" in again.stdout


def test_api_token_as_ckrv_token(srv: Server, user_ckrv: InProcessCli) -> None:
    srv.admin("user", "add", "ci@example.com", "--password-stdin", input="ci-password-1\n")
    token = srv.admin("token", "create", "ci@example.com").strip()
    login(user_ckrv, srv)  # a stored login for ada; CKRV_TOKEN wins over it
    whoami = user_ckrv.run("cloud", "whoami", "--json", CKRV_TOKEN=token)
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["email"] == "ci@example.com"

    token_id = json.loads(srv.admin("token", "list", "--email", "ci@example.com", "--json"))[0][
        "id"
    ]
    srv.admin("token", "revoke", token_id)
    revoked = user_ckrv.run("cloud", "whoami", CKRV_TOKEN=token)
    assert revoked.returncode == 3
    assert "ckrv cloud login" in revoked.stderr and token not in revoked.stderr


def test_parallel_commands_refreshing_at_once_keep_the_login(tmp_path: Path) -> None:
    srv = start_server(tmp_path, access_token_ttl="2s")
    try:
        srv.add_user(EMAIL)
        ckrv = InProcessCli(config_dir=tmp_path / "cli-config", api_url=srv.api_url)
        process = Cli(config_dir=ckrv.config_dir, api_url=srv.api_url)
        login(ckrv, srv)
        expires_at = stored(ckrv)[srv.api_url]["expires_at"]
        wait_for(lambda: time.time() > expires_at + 0.2, timeout=10, what="the token to expire")
        with httpx.Client() as http:  # the stored access token really is dead now
            stale = stored(ckrv)[srv.api_url]["access_token"]
            me = http.get(f"{srv.api_url}/users/me", headers={"Authorization": f"Bearer {stale}"})
            assert me.status_code == 401

        procs = [
            subprocess.Popen(
                [PYTHON, "-m", "ckrv", "cloud", "whoami", "--json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=process.env(),
                cwd=ROOT,
            )
            for _ in range(6)
        ]
        results = [(p.communicate(timeout=120), p.returncode) for p in procs]
        for (out, err), code in results:
            assert code == 0, err
            assert json.loads(out)["email"] == EMAIL
        after = ckrv.run("cloud", "whoami")
        assert after.returncode == 0, after.stderr
        with sqlite3.connect(srv.data_dir / "ckrv.db") as conn:
            revoked = conn.execute(
                "SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NOT NULL"
            )
            assert revoked.fetchone()[0] == 0  # no replay was detected: the lock serialized them
    finally:
        assert srv.stop() == 0


def test_concurrent_refreshes_of_one_token_at_most_one_succeeds(
    srv: Server, user_ckrv: InProcessCli
) -> None:
    login(user_ckrv, srv)
    refresh_token = stored(user_ckrv)[srv.api_url]["refresh_token"]
    barrier = threading.Barrier(8)

    def spend(_: int) -> tuple[int, Any]:
        with httpx.Client(base_url=srv.api_url, timeout=30) as http:
            barrier.wait()
            body = {"grant_type": "refresh_token", "refresh_token": refresh_token}
            response = http.post("/auth/refresh", json=body)
            return response.status_code, response.json()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(spend, range(8)))
    winners = [body for status, body in results if status == 200]
    assert len(winners) == 1, results
    assert sorted(status for status, _ in results) == [200] + [400] * 7
    # The seven replays revoked the login, including the one rotation that won.
    with httpx.Client(base_url=srv.api_url) as http:
        body = {"grant_type": "refresh_token", "refresh_token": winners[0]["refresh_token"]}
        assert http.post("/auth/refresh", json=body).json()["error"] == "invalid_grant"


_HEAVY = ("starlette", "uvicorn", "jinja2", "kubernetes", "argon2", "cryptography", "jwt")
_REPORT_MODULES = """
import json, runpy, sys
sys.argv = ["ckrv", *sys.argv[1:]]
try:
    runpy.run_module("ckrv", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def loaded_modules(ckrv: InProcessCli, *args: str, **env: str) -> tuple[int, set[str]]:
    """`ckrv ARGS` as a real process (a fresh interpreter): its exit code and the top-level
    modules it loaded."""
    process = Cli(config_dir=ckrv.config_dir, api_url=ckrv.api_url, token=ckrv.token)
    result = subprocess.run(
        [PYTHON, "-c", _REPORT_MODULES, *args],
        capture_output=True,
        text=True,
        env=process.env(**env),
        cwd=ROOT,
        timeout=60,
    )
    report = json.loads(result.stdout.splitlines()[-1])
    return report["code"], set(report["modules"])


def test_whoami_loads_no_server_side_or_crypto_modules(
    srv: Server, user_ckrv: InProcessCli
) -> None:
    """`ckrv cloud whoami` starts close to bare Python: it needs httpx and click, not the
    server's stack, and not the keyring once the token file is in use."""
    login(user_ckrv, srv)
    code, modules = loaded_modules(user_ckrv, "cloud", "whoami")
    assert code == 0
    assert not modules & {*_HEAVY, "keyring"}, modules & {*_HEAVY, "keyring"}
    token = srv.admin("token", "create", EMAIL).strip()
    code, modules = loaded_modules(user_ckrv, "cloud", "whoami", CKRV_TOKEN=token)
    assert code == 0 and not modules & set(_HEAVY)
    code, modules = loaded_modules(user_ckrv, "--help")
    assert code == 0 and not modules & {*_HEAVY, "keyring", "httpx"}
