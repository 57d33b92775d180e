"""`ckrv serve` as a real process: its data dir and key files, what it refuses to start with,
`/healthz`, and a clean stop on SIGTERM and SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import PYTHON, ROOT, Server, base_env


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def serve_once(data_dir: Path, config_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `ckrv serve` expecting it to refuse to start (so it exits on its own)."""
    return subprocess.run(
        [PYTHON, "-m", "ckrv", "serve", "--data-dir", str(data_dir), "--port", "0", *args],
        capture_output=True,
        text=True,
        env=base_env(config_dir),
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture
def fresh(tmp_path: Path) -> Server:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    return Server(data_dir=tmp_path / "state" / "data", config_dir=config_dir)


def test_first_start_creates_private_data_dir_and_keys(fresh: Server) -> None:
    old_umask = os.umask(0)  # the server must not depend on the caller's umask
    try:
        fresh.start()
    finally:
        os.umask(old_umask)
    try:
        output = "".join(fresh.output)
        assert f"listening on http://127.0.0.1:{fresh.port}" in output
        assert str(fresh.data_dir) in output
        assert mode(fresh.data_dir) == 0o700
        key_files = sorted((fresh.data_dir / "keys").iterdir())
        assert [p.name for p in key_files] == ["jwt-ed25519.pem", "master.keys"]
        for path in key_files:
            assert mode(path) == 0o600, path
        with sqlite3.connect(fresh.data_dir / "ckrv.db") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
        health = httpx.get(f"{fresh.url}/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert health.json()["details"]["sandbox"] == "bwrap"
    finally:
        assert fresh.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_server_cleanly(fresh: Server, sig: signal.Signals) -> None:
    token = fresh.start().add_user("ada@example.com")
    with fresh.client(token) as api:
        assert api.get("/users/me").status_code == 200
    assert fresh.stop(sig) == 0
    assert "Traceback" not in "".join(fresh.output)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{fresh.url}/healthz", timeout=2)
    # The stop lost nothing: keys, users and API tokens carry over to the next start.
    fresh.start(port=0)
    try:
        with fresh.client(token) as api:
            assert api.get("/users/me").json()["email"] == "ada@example.com"
    finally:
        assert fresh.stop() == 0


@pytest.mark.parametrize("name", ["jwt-ed25519.pem", "master.keys"])
@pytest.mark.parametrize("exposed", [0o640, 0o604], ids=["group-readable", "world-readable"])
def test_refuses_a_key_file_others_can_read(fresh: Server, name: str, exposed: int) -> None:
    fresh.start()
    assert fresh.stop() == 0
    key = fresh.data_dir / "keys" / name
    key.chmod(exposed)
    result = serve_once(fresh.data_dir, fresh.config_dir)
    assert result.returncode == 2
    assert str(key) in result.stderr and "readable by other users" in result.stderr
    assert f"chmod 600 {key}" in result.stderr  # says how to fix it
    assert "Traceback" not in result.stderr


def test_unknown_config_key_is_an_error_at_start(fresh: Server, tmp_path: Path) -> None:
    config = tmp_path / "ckrv.toml"
    config.write_text('[server]\nport = 1\nacess_token_ttl = "5m"\n')
    result = serve_once(fresh.data_dir, fresh.config_dir, "--config", str(config))
    assert result.returncode == 2
    assert "unknown key 'acess_token_ttl' in [server]" in result.stderr
    assert "access_token_ttl" in result.stderr  # the known keys are listed
    assert not fresh.data_dir.exists()  # refused before touching anything


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sever]\nport = 1\n", "unknown section [sever]"),
        ('[server]\naccess_token_ttl = "soon"\n', "[server] access_token_ttl = 'soon'"),
        ('[server]\nallow_local_repositories = "yes"\n', "expected true or false"),
        ("[server\n", "not valid TOML"),
        ('[agents.x]\ncommand = "echo"\n', "[agents.x] needs `command"),
        ('[server]\ntrusted_proxies = ["10.0.0.0/8", "proxy.local"]\n', "'proxy.local' does"),
        ('[server]\ntrusted_proxies = "127.0.0.1"\n', "expected a list of addresses"),
    ],
)
def test_invalid_config_is_refused_with_a_clear_message(
    fresh: Server, tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "ckrv.toml"
    config.write_text(text)
    result = serve_once(fresh.data_dir, fresh.config_dir, "--config", str(config))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_refuses_a_database_from_a_newer_schema(fresh: Server) -> None:
    fresh.start()
    assert fresh.stop() == 0
    db = fresh.data_dir / "ckrv.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    result = serve_once(fresh.data_dir, fresh.config_dir)
    assert result.returncode == 2
    assert "written by a newer ckrv (schema 999" in result.stderr
    assert "upgrade ckrv" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "listening" not in result.stdout
    # The admin commands refuse it the same way.
    admin = subprocess.run(
        [PYTHON, "-m", "ckrv", "admin", "--data-dir", str(fresh.data_dir), "user", "list"],
        capture_output=True,
        text=True,
        env=base_env(fresh.config_dir),
        cwd=ROOT,
        timeout=60,
    )
    assert admin.returncode == 2 and "newer ckrv" in admin.stderr


def test_port_in_use_is_reported(fresh: Server) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = serve_once(fresh.data_dir, fresh.config_dir, "--port", str(port))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr


def test_a_host_not_of_this_machine_is_reported_as_the_host(fresh: Server) -> None:
    # 192.0.2.1 is TEST-NET-1: documentation only, never an address of this machine.
    result = serve_once(fresh.data_dir, fresh.config_dir, "--host", "192.0.2.1", "--port", "0")
    assert result.returncode == 2
    assert "--host 192.0.2.1 is not an address of this machine" in result.stderr
    assert "pick another --port" not in result.stderr


def test_without_public_url_links_use_the_address_the_client_reached(fresh: Server) -> None:
    fresh.extra_args = ["--host", "0.0.0.0"]
    fresh.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{fresh.port}/v1") as api:
            grant = api.post("/auth/device", json={"client_id": "t"}).json()
        assert grant["verification_uri"] == f"http://127.0.0.1:{fresh.port}/activate"
    finally:
        assert fresh.stop() == 0


def test_public_url_is_used_for_links_and_the_issuer(fresh: Server) -> None:
    fresh.extra_args = ["--public-url", "https://ckrv.example.com/"]
    fresh.start()
    try:
        with fresh.client() as api:
            grant = api.post("/auth/device", json={"client_id": "t"}).json()
            document = api.get("/openapi.json").json()
        assert grant["verification_uri"] == "https://ckrv.example.com/activate"
        assert document["servers"] == [{"url": "https://ckrv.example.com/v1"}]
    finally:
        assert fresh.stop() == 0
