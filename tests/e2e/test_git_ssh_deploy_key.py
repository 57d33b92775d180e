"""Deploy keys against a real `sshd` on a loopback port: the key goes to a 0600 file used through
GIT_SSH_COMMAND with IdentitiesOnly, under each known_hosts policy. Skipped where sshd is not
installed (Debian: openssh-server)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ckrv.contracts.credentials import GitCredential
from ckrv.worker.gitauth import base_git_env, credential_env, explain_auth_failure
from tests.support.helpers import make_repo
from tests.support.sshd import Sshd, keygen, start_sshd


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    daemon = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("repo"))


def deploy_key(value: str) -> GitCredential:
    return GitCredential("deploy", "generic", "deploy_key", value, username="")


def clone(
    tmp_path: Path, url: str, key: str, policy: str = "accept-new", known_hosts: Path | None = None
) -> subprocess.CompletedProcess[str]:
    private = tmp_path / "private"
    private.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "SSH_"))}
    env.update(base_git_env(allow_local=False))
    env.update(
        credential_env(
            deploy_key(key), url, private, known_hosts_policy=policy, known_hosts_file=known_hosts
        )
    )
    return subprocess.run(
        ["git", "clone", "--", url, str(tmp_path / "checkout")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_deploy_key_clones_over_ssh(tmp_path: Path, sshd: Sshd, origin: Path) -> None:
    key = sshd.client_key
    result = clone(tmp_path, sshd.url(origin), key)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "checkout" / "README.md").exists()
    key_file = tmp_path / "private" / "deploy_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    # accept-new recorded the host in the job's own known_hosts, not the user's
    assert "127.0.0.1" in (tmp_path / "private" / "known_hosts").read_text()
    config = (tmp_path / "checkout" / ".git" / "config").read_text()
    assert "PRIVATE KEY" not in config and "deploy_key" not in config


def test_a_key_the_server_does_not_know_is_refused_with_a_clear_message(
    tmp_path: Path, sshd: Sshd, origin: Path
) -> None:
    other = keygen(tmp_path / "other_key").read_text()
    result = clone(tmp_path, sshd.url(origin), other)
    assert result.returncode != 0
    message = explain_auth_failure(result.stderr, sshd.host, "deploy", credential_type="deploy_key")
    assert message is not None
    assert (
        sshd.host in message
        and "'deploy'" in message
        and "deploy key of this repository" in message
    )


def test_the_strict_policy_refuses_an_unknown_host(
    tmp_path: Path, sshd: Sshd, origin: Path
) -> None:
    key = sshd.client_key
    known = tmp_path / "known_hosts"
    known.write_text("")
    refused = clone(tmp_path, sshd.url(origin), key, policy="yes", known_hosts=known)
    assert refused.returncode != 0
    message = explain_auth_failure(
        refused.stderr, sshd.host, "deploy", credential_type="deploy_key"
    )
    assert message is not None and "host key" in message
    # once the host's key is listed, the strict policy lets the clone through
    host_key = (sshd.root / "host_key.pub").read_text().split()
    known.write_text(f"[127.0.0.1]:{sshd.port} {host_key[0]} {host_key[1]}\n")
    assert clone(tmp_path, sshd.url(origin), key, policy="yes", known_hosts=known).returncode == 0


def test_the_no_policy_skips_host_checks(tmp_path: Path, sshd: Sshd, origin: Path) -> None:
    key = sshd.client_key
    result = clone(tmp_path, sshd.url(origin), key, policy="no")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "private" / "known_hosts").exists()


def test_the_key_file_is_written_whatever_the_umask(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    old = os.umask(0)
    try:
        env = credential_env(
            deploy_key("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n"),
            "ssh://git@example.com/x.git",
            private,
        )
    finally:
        os.umask(old)
    assert oct((private / "deploy_key").stat().st_mode & 0o777) == "0o600"
    assert "IdentitiesOnly=yes" in env["GIT_SSH_COMMAND"]
    assert "PRIVATE KEY" not in env["GIT_SSH_COMMAND"]
