"""Jobs that end before their setup command or agent ran give their quota back: a free user's
ten jobs are not spent on clones that fail in no time. A job whose agent ran counts."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.helpers import Server, make_repo
from tests.support.jobhelpers import submit, wait_status


def used(api: httpx.Client) -> int:
    return int(api.get("/users/me").json()["jobs_used"])


def test_a_job_whose_clone_fails_leaves_the_quota_as_it_was(server: Server, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"README.md": "# sample\n"})
    with server.client(server.add_user("free@example.com", tier="free")) as api:
        missing = submit(api, "# Nothing to clone\nprint hi\n", tmp_path / "no-such-repo")
        branchless = submit(api, "# No branch\nprint hi\n", repo, git_base_branch="nope")
        assert used(api) == 2  # spent at creation, as before
        for created in (missing, branchless):
            ended = wait_status(api, created["id"])
            assert ended["status"] == "failed", ended
            assert ended["quota_refunded"] is True
        me = api.get("/users/me").json()
        assert me["jobs_used"] == 0 and me["job_quota_remaining"] == 10

        ran = wait_status(api, submit(api, "# Greet\nprint hello\n", repo)["id"])
        assert ran["status"] == "succeeded" and ran["quota_refunded"] is False
        failed_agent = wait_status(api, submit(api, "# Fail\nexit 3\n", repo)["id"])
        assert failed_agent["status"] == "failed" and failed_agent["quota_refunded"] is False
        assert used(api) == 2  # the agent ran in both: both count
