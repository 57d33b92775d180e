"""Follow-ups: `ckrv continue` makes a job that starts from another's result, kept by the
server as a bundle, pushed or not. Real server, real workers, the scripted agent, real git
(a smart-HTTP remote where pushes matter); `ckrv` runs in-process in a real checkout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import user_checkout
from tests.support.githttp import GitHttpServer
from tests.support.helpers import Server, git, make_repo
from tests.support.inprocess import InProcessCli
from tests.support.jobhelpers import logs, submit, wait_status
from tests.support.origins import hello_servers
from tests.support.servers import write_config

# A user in a checkout of `origin`: the shared fixtures (tests/support/user_checkout.py).
api, checkout, ckrv = user_checkout.api, user_checkout.checkout, user_checkout.ckrv

TOKEN = "ghp_FOLLOWUPtoken0123456789abcdefXYZ"


@pytest.fixture(scope="module")
def token(live: Server) -> str:
    return live.add_user("threads@example.com", tier="enterprise")


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "remote", {"README.md": "# sample\n", "notes.txt": "one\n"})


def continued(api: httpx.Client, parent: str, spec: str, **extra: Any) -> dict[str, Any]:
    response = api.post(f"/jobs/{parent}/continue", json={"spec_content": spec, **extra})
    assert response.status_code == 201, response.text
    return wait_status(api, response.json()["id"])


def test_a_follow_up_of_an_unpushed_job_starts_from_its_result(
    live: Server, api: httpx.Client, origin: Path, checkout: Path, ckrv: InProcessCli
) -> None:
    first = wait_status(api, submit(api, "# Add two\nappend notes.txt two\n", origin)["id"])
    assert first["status"] == "succeeded" and first["pushed_branch"] is None
    second = continued(
        api, first["id"], "# Add three\nshow CKRV_HISTORY_FILE\nappend notes.txt three\n"
    )
    assert second["status"] == "succeeded", second["error_message"]
    assert second["parent"] == first["id"] and second["thread"] == first["id"]
    assert second["base_commit"] == first["base_commit"]
    assert second["start_commit"] == first["result_commit"]
    assert second["feature_branch_name"] == first["feature_branch_name"]
    # the agent was told the earlier step: its spec and how it ended
    told = "\n".join(logs(live.data_dir, second["id"]))
    assert "# Add two" in told and first["result_summary"] in told and "# Now" in told

    pulled = ckrv.run("pull", second["id"][:8])
    assert pulled.returncode == 0, pulled.stderr
    assert (checkout / "notes.txt").read_text() == "one\ntwo\nthree\n"  # the thread's change

    git(checkout, "checkout", "-q", "--", ".")
    delta = ckrv.run("pull", second["id"][:8], "--delta", "--no-apply")
    assert delta.returncode == 0, delta.stderr
    assert "+three" in delta.stdout and "+two" not in delta.stdout

    listed = ckrv.json("jobs", "--thread", first["id"][:8], "--json")
    assert [j["id"] for j in listed] == [second["id"], first["id"]]


def test_three_pushed_steps_fast_forward_one_branch(api: httpx.Client, tmp_path: Path) -> None:
    remote = make_repo(tmp_path / "git", {"notes.txt": "one\n"})
    updates = tmp_path / "updates.log"
    hook = remote / "hooks" / "update"
    hook.write_text(f'#!/bin/sh\necho "$1 $2 $3" >> {updates}\n')
    hook.chmod(0o755)
    with GitHttpServer(tmp_path / "git", username="x-access-token", password=TOKEN) as github:
        response = api.post(
            "/credentials",
            json={"name": "gh", "provider": "github", "credential_type": "pat", "value": TOKEN},
        )
        assert response.status_code == 201, response.text
        url = github.url("origin.git")
        step = wait_status(
            api,
            submit(
                api, "# Step 1\nappend notes.txt two\n", url, git_credential_name="gh", push=True
            )["id"],
        )
        steps = [step]
        for n in (2, 3):
            step = continued(api, step["id"], f"# Step {n}\nappend notes.txt {n}\n", push=True)
            steps.append(step)
    branch = steps[0]["feature_branch_name"]
    assert all(s["status"] == "succeeded" and s["pushed_branch"] == branch for s in steps)
    assert git(remote, "show", f"{branch}:notes.txt") == "one\ntwo\n2\n3"
    lines = updates.read_text().splitlines()
    assert len(lines) == 3 and all(line.startswith(f"refs/heads/{branch} ") for line in lines)
    olds = [line.split()[1] for line in lines]
    news = [line.split()[2] for line in lines]
    assert olds[0] == "0" * 40 and olds[1:] == news[:-1]  # each push moved the tip it found
    assert news == [s["result_commit"] for s in steps]
    for old, new in zip(olds[1:], news[1:], strict=True):
        git(remote, "merge-base", "--is-ancestor", old, new)  # a fast-forward each time
    assert git(remote, "rev-parse", f"{branch}~3") == steps[0]["base_commit"]


def test_only_a_succeeded_job_with_a_kept_result_can_be_continued(
    api: httpx.Client, origin: Path
) -> None:
    failed = wait_status(api, submit(api, "exit 3\n", origin)["id"])
    response = api.post(f"/jobs/{failed['id']}/continue", json={"spec_content": "more"})
    assert response.status_code == 409
    assert "only a succeeded job can be continued" in response.json()["message"]


def test_a_follow_up_keeps_its_parents_network_and_limits_unless_overridden(
    live: Server, api: httpx.Client, origin: Path, ckrv: InProcessCli
) -> None:
    with hello_servers(1) as (port,):
        probe = f"fetch http://127.0.0.1:{port}/ok\nrlimit DATA\n"
        first = wait_status(
            api,
            submit(
                api,
                f"# Offline\nappend notes.txt two\n{probe}",
                origin,
                network="none",
                limits={"memory": "300M"},
                timeout_seconds=600,
            )["id"],
        )
        assert first["status"] == "succeeded", first["error_message"]
        queued = ckrv.json("continue", first["id"][:8], "-m", f"# Still offline\n{probe}")
        second = wait_status(api, queued["id"])
        # an override, checked as job creation checks it
        refused = ckrv.run("continue", first["id"][:8], "-m", "more", "--memory", "lots")
        opened = ckrv.json(
            "continue", first["id"][:8], "-m", f"# Online\n{probe}", "--network", "open"
        )
        third = wait_status(api, opened["id"])
        # `--network default`: not the parent's option, the server's policy (open here)
        default = ckrv.json("continue", first["id"][:8], "-m", probe, "--network", "default")
        fourth = wait_status(api, default["id"])
    assert second["status"] == "succeeded", second["error_message"]
    assert second["network"] == {
        "mode": "none",
        "allowed_hosts": [],
        "source": "the job's network option",
    }
    assert second["limits"] == {"memory": 300 * 1024 * 1024} == first["limits"]
    assert second["timeout_seconds"] == 600
    lines = logs(live.data_dir, second["id"])
    assert "network: none, set by the job's network option" in lines
    assert f"unreachable http://127.0.0.1:{port}/ok" in lines
    assert f"DATA={300 * 1024 * 1024}" in lines

    assert refused.returncode == 1, refused.stderr  # the server's 400, as for `ckrv run --cloud`
    assert "limits.memory: invalid size 'lots'" in refused.stderr
    # only "" drops the parent's setup; anything else given is checked as job creation does
    for wrong in ({"setup": "  "}, {"agent": ["scripted"]}, {"network": "wide"}):
        answer = api.post(f"/jobs/{first['id']}/continue", json={"spec_content": "x", **wrong})
        assert answer.status_code == 400, answer.text
    assert third["network"]["mode"] == "open" and third["limits"] == first["limits"]
    assert f"fetched http://127.0.0.1:{port}/ok" in logs(live.data_dir, third["id"])
    assert fourth["status"] == "succeeded", fourth["error_message"]
    assert fourth["network"] is None and fourth["limits"] == first["limits"]
    assert f"fetched http://127.0.0.1:{port}/ok" in logs(live.data_dir, fourth["id"])


def test_pull_delta_to_a_branch_rebuilds_a_parent_that_was_never_pushed(
    api: httpx.Client, origin: Path, checkout: Path, ckrv: InProcessCli, tmp_path: Path
) -> None:
    first = wait_status(api, submit(api, "# Add two\nappend notes.txt two\n", origin)["id"])
    second = continued(api, first["id"], "# Add three\nappend notes.txt three\n")
    assert second["status"] == "succeeded", second["error_message"]
    head = git(checkout, "rev-parse", "HEAD")

    pulled = ckrv.run("pull", second["id"][:8], "--delta", "--branch", "step-2")
    assert pulled.returncode == 0, pulled.stderr
    assert "at its parent's result, rebuilt from the parent's diff" in pulled.stdout
    assert git(checkout, "show", "step-2:notes.txt") == "one\ntwo\nthree"
    assert git(checkout, "show", "step-2~1:notes.txt") == "one\ntwo"  # the parent's result
    assert git(checkout, "rev-parse", "step-2~2") == first["base_commit"]
    step = git(checkout, "diff", "step-2~1", "step-2")
    assert "+three" in step and "+two" not in step  # the branch's last commit is the delta
    assert git(checkout, "rev-parse", "HEAD") == head and git(checkout, "status", "--short") == ""

    # Where the thread's base commit cannot be had, nothing is created and it says why.
    elsewhere = make_repo(tmp_path / "elsewhere", {"README.md": "# other\n"})
    git(tmp_path, "clone", "-q", str(elsewhere), "other")
    shutil.rmtree(origin)
    ckrv.cwd = tmp_path / "other"
    refused = ckrv.run("pull", second["id"][:8], "--delta", "--branch", "step-2")
    assert refused.returncode == 4, refused.stderr
    assert "could not be fetched: " in refused.stderr  # the repository is gone
    assert "and it cannot be rebuilt here" in refused.stderr
    assert f"ckrv pull {second['id'][:8]} --branch NAME" in refused.stderr
    assert git(tmp_path / "other", "branch", "--list", "step-2") == ""
    # the branch name is checked before anything is fetched: the same error as `--branch`
    taken = ckrv.run("pull", second["id"][:8], "--delta", "--branch", "main")
    assert taken.returncode == 2 and "branch main already exists" in taken.stderr


def test_pull_delta_to_a_branch_says_when_the_parent_could_not_be_fetched(
    api: httpx.Client, origin: Path, checkout: Path, ckrv: InProcessCli, tmp_path: Path
) -> None:
    """A fetch that fails (here: the repository moved away) is not taken for "never pushed":
    the step is still put on the parent's result, rebuilt from its diff, and it says why."""
    first = wait_status(api, submit(api, "# Add two\nappend notes.txt two\n", origin)["id"])
    second = continued(api, first["id"], "# Add three\nappend notes.txt three\n")
    assert second["status"] == "succeeded", second["error_message"]
    shutil.move(origin, tmp_path / "moved")

    pulled = ckrv.run("pull", second["id"][:8], "--delta", "--branch", "step-2")
    assert pulled.returncode == 0, pulled.stderr
    assert "rebuilt from the parent's diff (it could not be fetched: " in pulled.stdout
    assert "does not appear to be a git repository" in pulled.stdout
    assert "never pushed" not in pulled.stdout
    assert git(checkout, "show", "step-2:notes.txt") == "one\ntwo\nthree"
    assert git(checkout, "rev-parse", "step-2~2") == first["base_commit"]


def test_inherited_options_the_server_now_allows_less_of_are_lowered_and_said(
    tmp_path: Path,
) -> None:
    """An operator lowered the maximum timeout, fix rounds and memory since the parent ran:
    its follow-up is not refused for values its user never typed, but an explicit one is."""
    (tmp_path / "config").mkdir()
    widening = 'network = "none"\njobs_may_widen_network = true'
    config = write_config(tmp_path, server_extra=f'job_timeout = "1h"\n{widening}')
    srv = Server(data_dir=tmp_path / "data", config_dir=tmp_path / "config", config=config)
    srv.start()
    try:
        token = srv.add_user("lowered@example.com", tier="enterprise")
        origin = make_repo(tmp_path / "remote", {"notes.txt": "one\n"})
        git(tmp_path, "clone", "-q", str(origin), "work")
        (tmp_path / "cli-config").mkdir()
        cli = InProcessCli(
            config_dir=tmp_path / "cli-config",
            api_url=srv.api_url,
            token=token,
            cwd=tmp_path / "work",
        )
        with srv.client(token) as api:
            spec = "# Add two\nappend notes.txt two\n"
            extra = {"verify": ["true"], "fix_rounds": 3, "limits": {"memory": "300M"}}
            extra["network"] = "open"
            first = wait_status(api, submit(api, spec, origin, **extra)["id"])
            assert first["status"] == "succeeded" and first["timeout_seconds"] == 3600
            assert first["verified"] is True
            server_extra = 'max_job_timeout = "30m"\nmax_fix_rounds = 1\nmemory = "200M"'
            server_extra += '\nnetwork = "none"'  # and jobs may no longer widen it
            write_config(tmp_path, server_extra=server_extra)
            srv.restart()

            asked = cli.run("continue", first["id"][:8], "-m", "more", "--timeout", "2h")
            lowered = cli.run(
                "continue", first["id"][:8], "-m", "# Add three\nappend notes.txt three\n",
                "--json",
            )  # fmt: skip
            assert lowered.returncode == 0, lowered.stderr
            second = wait_status(api, json.loads(lowered.stdout)["id"])
            dropped = cli.json("continue", second["id"][:8], "-m", "# Four\n", "--no-verify")
            third = wait_status(api, dropped["id"])
    finally:
        srv.shutdown()
    # what the user typed is checked as for a new job, with its error
    assert asked.returncode == 1
    assert "timeout_seconds = 7200 (2h00m) is over this server's maximum of 30m00s" in (
        asked.stderr
    )
    notices = [
        "inherited timeout 1h00m lowered to the server's maximum 30m00s (max_job_timeout)",
        "inherited fix rounds 3 lowered to the server's maximum 1 (max_fix_rounds)",
        "inherited limit memory 300 MiB lowered to the 200 MiB the server now gives scripted jobs",
        "inherited network option (open) dropped, the server's policy applies: the job asks "
        'for network = "open", wider than the "none" set by [server] network',
    ]
    told = logs(tmp_path / "data", second["id"])
    for notice in notices:  # on the terminal, and in the follow-up's log
        assert f"warning: {notice}" in lowered.stderr
        assert any(line.startswith(notice) for line in told)
    assert second["status"] == "succeeded", second["error_message"]
    assert second["timeout_seconds"] == 1800 and second["fix_rounds"] == 1
    assert second["limits"] == {"memory": 200 * 1024 * 1024} and second["verified"] is True
    assert first["network"]["mode"] == "open" and second["network"] is None
    # --no-verify drops the verify commands it would inherit: nothing is verified
    assert third["status"] == "succeeded", third["error_message"]
    assert third["verified"] is None and third["verify_transcripts"] == []
