"""PATs reach a real smart-HTTP git server through the askpass helper, driven by a plain `git
clone` with the environment gitauth builds: never through argv, a URL or .git/config."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from ckrv.contracts.credentials import GitCredential, git_username
from ckrv.contracts.masking import scrub
from ckrv.errors import CredentialMismatch, WorkerError
from ckrv.server.vault.credential_rules import check_credential_fits
from ckrv.worker.gitauth import base_git_env, credential_env, explain_auth_failure
from tests.support.githttp import GitHttpServer
from tests.support.helpers import make_repo

TOKEN = "ghp_SENTINELgit0123456789abcdefABCD"


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    make_repo(tmp_path / "srv")
    return tmp_path / "srv"


@pytest.fixture
def github(origin: Path):  # type: ignore[no-untyped-def]
    with GitHttpServer(origin, username="x-access-token", password=TOKEN) as srv:
        yield srv


def private_dir(tmp_path: Path) -> Path:
    path = tmp_path / "private"
    path.mkdir(mode=0o700)
    return path


def pat(value: str = TOKEN, provider: str = "github") -> GitCredential:
    return GitCredential("gh", provider, "pat", value, username="")


def clone(
    tmp_path: Path, url: str, credential: GitCredential | None, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    if home is not None:
        env["HOME"] = str(home)
    env.update(base_git_env(allow_local=True))
    env.update(credential_env(credential, url, private_dir(tmp_path)))
    dest = tmp_path / "checkout"
    return subprocess.run(
        ["git", "clone", "--", url, str(dest)], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_pat_clones_through_the_askpass_helper(tmp_path: Path, github: GitHttpServer) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # a user-level credential helper that would write the token to disk if git consulted it
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    result = clone(tmp_path, github.url("origin.git"), pat(), home=home)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "checkout" / "README.md").exists()
    assert any(a.authorized and a.username == "x-access-token" for a in github.attempts)
    config = (tmp_path / "checkout" / ".git" / "config").read_text()
    assert TOKEN not in config and "x-access-token" not in config
    assert not (home / ".git-credentials").exists()
    leftovers = [p for p in (tmp_path / "checkout").rglob("*") if p.is_file()]
    assert not any(TOKEN.encode() in p.read_bytes() for p in leftovers)


def test_the_token_is_in_no_command_line_while_the_clone_runs(
    tmp_path: Path, github: GitHttpServer
) -> None:
    github.gate.clear()  # hold the authenticated requests: the clone is mid-flight
    outcome: list[subprocess.CompletedProcess[str]] = []
    worker = threading.Thread(
        target=lambda: outcome.append(clone(tmp_path, github.url("origin.git"), pat()))
    )
    worker.start()
    try:
        assert github.waiting.wait(30), "the clone never authenticated"
        seen = []
        for entry in Path("/proc").iterdir():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"git" in cmdline:
                seen.append(cmdline)
            assert TOKEN.encode() not in cmdline, cmdline
        assert any(b"clone" in line for line in seen)  # we did look while git was running
    finally:
        github.gate.set()
        worker.join(60)
    assert outcome and outcome[0].returncode == 0, outcome


@pytest.mark.parametrize(
    "credential", [None, pat("ghp_wrongTOKEN0123456789abcdefXYZ")], ids=["without", "wrong"]
)
def test_a_refused_clone_explains_what_to_fix(
    tmp_path: Path, github: GitHttpServer, credential: GitCredential | None
) -> None:
    result = clone(tmp_path, github.url("origin.git"), credential)
    assert result.returncode != 0
    message = explain_auth_failure(
        result.stderr, github.host, credential and credential.name, provider="github"
    )
    assert message is not None and github.host in message
    if credential is None:
        assert "has none" in message and "ckrv cloud credentials add" in message
    else:
        assert "'gh'" in message and "Contents" in message and "`repo` scope" in message
        assert credential.value not in result.stderr


def test_the_helper_answers_only_for_the_repositorys_host(
    tmp_path: Path, origin: Path, github: GitHttpServer
) -> None:
    with GitHttpServer(origin, username="x-access-token", password=TOKEN) as other:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(base_git_env(allow_local=True))
        # the credential is for github's host; the clone goes (say, redirected) elsewhere
        env.update(credential_env(pat(), github.url("origin.git"), private_dir(tmp_path)))
        result = subprocess.run(
            ["git", "clone", "--", other.url("origin.git"), str(tmp_path / "elsewhere")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert not any(a.username for a in other.attempts)  # no username, let alone the token
    assert "another host" in result.stderr


def test_a_pat_can_push_a_branch(tmp_path: Path, github: GitHttpServer, origin: Path) -> None:
    assert clone(tmp_path, github.url("origin.git"), pat()).returncode == 0
    checkout = tmp_path / "checkout"
    (checkout / "new.txt").write_text("pushed\n")
    env = {
        **os.environ,
        **base_git_env(True),
        **credential_env(pat(), github.url("origin.git"), tmp_path / "private"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
    }
    for args in (
        ["add", "new.txt"],
        ["commit", "-qm", "new"],
        ["push", "origin", "HEAD:refs/heads/ckrv/x"],
    ):
        done = subprocess.run(["git", *args], cwd=checkout, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    branches = subprocess.run(
        ["git", "branch", "--list"], cwd=origin / "origin.git", capture_output=True, text=True
    ).stdout
    assert "ckrv/x" in branches


def test_provider_usernames() -> None:
    url = "https://git.example.com/me/app.git"
    assert git_username("github", url) == "x-access-token"
    assert git_username("gitlab", url) == "oauth2"
    assert git_username("bitbucket", url) == "x-token-auth"
    assert git_username("generic", url) == "git"
    assert git_username("generic", "https://ada@git.example.com/me/app.git") == "ada"


def test_the_askpass_helper_gets_the_providers_username(tmp_path: Path, origin: Path) -> None:
    with GitHttpServer(origin, username="oauth2", password=TOKEN) as gitlab:
        assert clone(tmp_path, gitlab.url("origin.git"), pat(provider="gitlab")).returncode == 0


@pytest.mark.parametrize(
    ("kind", "url", "says"),
    [
        ("pat", "git@github.com:me/app.git", "cannot be used with the ssh URL"),
        ("pat", "ssh://git@github.com/me/app.git", "cannot be used with the ssh URL"),
        ("deploy_key", "https://github.com/me/app.git", "use the repository's ssh URL"),
    ],
)
def test_a_credential_that_cannot_fit_the_url_is_refused(kind: str, url: str, says: str) -> None:
    with pytest.raises(CredentialMismatch) as refused:
        check_credential_fits(kind, url)
    assert refused.value.status == 400 and says in refused.value.message
    with pytest.raises(WorkerError):
        credential_env(
            GitCredential("gh", "github", kind, "x" * 20, username=""),
            url,
            Path("/nonexistent"),
        )


def test_matching_credentials_and_urls_are_accepted() -> None:
    check_credential_fits("pat", "https://github.com/me/app.git")
    check_credential_fits("deploy_key", "git@github.com:me/app.git")
    check_credential_fits("deploy_key", "ssh://git@github.com:22/me/app.git")


def test_scrub_removes_userinfo_token_shapes_and_known_values() -> None:
    text = (
        "fatal: unable to access 'https://x-access-token:s3cr3t-value-1@github.com/me/app.git/': "
        "token ghp_abcdefghijklmnopqrstuvwxyz0123 and glpat-abcdefghijklmnopqrst and "
        "my-known-secret-value"
    )
    clean = scrub(text, ["my-known-secret-value"])
    assert "s3cr3t" not in clean and "x-access-token" not in clean
    assert "ghp_abc" not in clean and "glpat-abc" not in clean and "my-known" not in clean
    assert "https://***@github.com/me/app.git/" in clean


def test_a_private_dir_others_can_enter_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    with pytest.raises(WorkerError, match="0700"):
        credential_env(pat(), "https://github.com/me/app.git", shared)
