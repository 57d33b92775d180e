"""With `refuse_private_hosts`, the worker checks the repository host again when git connects:
it resolves the name once, refuses a special-purpose address (what the name resolves to may
have changed since the job was created), pins git to the address it checked and turns
redirects off, so a redirect (to a refused host or anywhere) fails instead of being followed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ckrv.contracts.masking import Masker
from ckrv.errors import GitError, WorkerError
from ckrv.worker.gitops import Git
from ckrv.worker.hostpin import HostPin, explain_redirect, pin_repository_host
from tests.support.githttp import GitHttpServer
from tests.support.helpers import Server, make_repo
from tests.support.jobhelpers import submit, wait_status
from tests.support.servers import write_config


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:9/origin.git",
        "https://localhost/origin.git",
        "ssh://git@localhost/origin.git",
        "git@localhost:origin.git",
        "https://[::ffff:127.0.0.1]/origin.git",
        "https://100.100.100.200/origin.git",
    ],
)
def test_a_host_resolving_to_a_refused_address_is_refused_by_the_worker(url: str) -> None:
    with pytest.raises(WorkerError, match="refuse_private_hosts"):
        pin_repository_host(url, refuse_private=True)
    assert pin_repository_host(url, refuse_private=False) == HostPin()


def git_version() -> tuple[int, ...]:
    out = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True)
    return tuple(int(part) for part in out.stdout.split()[2].split(".")[:2])


def test_git_here_knows_the_pinning_option() -> None:
    assert git_version() >= (2, 37), "http.curloptResolve needs git 2.37 or later"


def test_a_pinned_clone_does_not_follow_a_redirect(tmp_path: Path) -> None:
    make_repo(tmp_path / "srv")
    with (
        GitHttpServer(tmp_path / "srv", username="u", password="p") as target,
        GitHttpServer(tmp_path / "none", username="u", password="p") as redirector,
    ):
        redirector.redirect_to = f"http://u:p@{target.host}"
        url = f"http://repo.test:{redirector.port}/origin.git"
        # what pin_repository_host gives for a host that resolved to an allowed address
        pin = ("-c", "http.followRedirects=false")
        resolve = ("-c", f"http.curloptResolve=repo.test:{redirector.port}:127.0.0.1")
        env = {"PATH": "/usr/bin:/bin", "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
        env["HOME"] = str(tmp_path)
        (tmp_path / "a").mkdir()
        with pytest.raises(GitError, match=r"302|redirect") as refused:
            Git(env, Masker(), (*pin, *resolve)).clone(url, "main", tmp_path / "a" / "co")
        said = explain_redirect(refused.value.message, (*pin, *resolve))
        assert said is not None and "use the URL it redirects to" in said
        assert not target.attempts
        # without the pin's redirect rule git follows it (the rule is what stops it)
        (tmp_path / "b").mkdir()
        Git(env, Masker(), resolve).clone(url, "main", tmp_path / "b" / "co")
        assert target.attempts


def test_a_job_whose_host_now_resolves_to_a_refused_address_fails_clearly(
    tmp_path: Path, config_dir: Path
) -> None:
    """Created while the setting was off (as if the name resolved elsewhere then), run with it
    on: the worker's own check stops the clone."""
    make_repo(tmp_path / "srv")
    with GitHttpServer(tmp_path / "srv", username="u", password="p") as git:
        config = write_config(tmp_path, capacity=0)
        srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
        try:
            token = srv.add_user("ada@example.com", tier="pro")
            with srv.client(token) as api:
                url = f"http://localhost:{git.port}/origin.git"
                job_id = submit(api, "print hi\n", url)["id"]
        finally:
            srv.shutdown()
        write_config(tmp_path, server_extra="refuse_private_hosts = true")
        srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config).start()
        try:
            with srv.client(token) as api:
                done = wait_status(api, job_id)
            assert done["status"] == "failed", done
            assert "now resolves to" in done["error_message"]
            assert "refuse_private_hosts" in done["error_message"]
            assert not git.attempts  # git never connected
        finally:
            srv.shutdown()
