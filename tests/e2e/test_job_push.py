"""`push`: on success the worker pushes the feature branch to the repository's origin."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.helpers import Server, git, make_repo
from tests.support.jobhelpers import submit, wait_status


def test_push_puts_the_feature_branch_on_the_remote(server: Server, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with server.client(server.add_user("pat@example.com")) as api:
        done = wait_status(
            api, submit(api, "# Pushed work\nwrite pushed.txt yes\\n\n", repo, push=True)["id"]
        )
    branch = done["feature_branch_name"]
    assert done["status"] == "succeeded" and done["pushed_branch"] == branch
    assert f"pushed {branch}" in done["result_summary"]
    assert git(repo, "show", f"{branch}:pushed.txt") == "yes"
    assert git(repo, "rev-parse", f"{branch}~1") == done["base_commit"]


def test_a_failed_push_keeps_the_diff_and_says_why(server: Server, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hook = repo / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are closed today' >&2\nexit 1\n")
    os.chmod(hook, 0o755)
    with server.client(server.add_user("pat@example.com")) as api:
        done = wait_status(api, submit(api, "write a.txt A\\n\n", repo, push=True)["id"])
        assert done["status"] == "succeeded" and done["pushed_branch"] is None
        assert "push failed" in done["result_summary"]
        assert "+A" in api.get(f"/jobs/{done['id']}/artifacts/diff").text
    assert git(repo, "branch", "--list", done["feature_branch_name"]) == ""
