"""The diff the user pulls is the change to the checkout's tracked and new files, taken by the
worker's own repository: whatever the agent did with the checkout's .git (commits, excludes,
a deleted index) does not change what is in it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import Server, git, make_repo
from tests.support.jobhelpers import submit, wait_status
from tests.support.servers import write_config

AGENT = """
set -e
rm app.py
echo more >> tracked.log
echo new > new.txt
echo junk > junk.log
git add new.txt
git -c user.name=a -c user.email=a@example.com commit -q --no-verify -m "the agent's own"
echo new.txt >> .git/info/exclude
rm .git/index
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    agents = f"""
[agents.committer]
command = ["sh", "-c", {json.dumps(AGENT)}]
"""
    (tmp_path / "config").mkdir()
    srv = Server(tmp_path / "data", tmp_path / "config", write_config(tmp_path, agents)).start()
    yield srv
    srv.stop()


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    with server.client(server.add_user("ada@example.com", tier="pro")) as client:
        yield client


def test_the_diff_is_the_work_trees_change_whatever_the_agent_did_to_git(
    tmp_path: Path, api: httpx.Client
) -> None:
    files = {"README.md": "# r\n", "app.py": "print(1)\n", ".gitignore": "*.log\n"}
    repo = make_repo(tmp_path / "repo", files)
    seed = tmp_path / "seed"  # a tracked file the .gitignore matches (added with --force)
    git(tmp_path, "clone", "-q", str(repo), str(seed))
    (seed / "tracked.log").write_text("kept\n")
    git(seed, "add", "--force", "tracked.log")
    git(seed, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "log")
    git(seed, "push", "-q", "origin", "main")

    job = submit(api, "# Commit yourself\n", repo, agent="committer", push=True)
    done = wait_status(api, job["id"])
    assert done["status"] == "succeeded", done
    diff = api.get(f"/jobs/{job['id']}/artifacts/diff").text
    assert "deleted file mode" in diff and "-print(1)" in diff
    assert "+more" in diff and "+new" in diff
    assert "junk" not in diff and ".git/" not in diff
    branch = done["pushed_branch"]
    assert git(repo, "rev-parse", f"{branch}~1") == done["base_commit"]
    tree = set(git(repo, "ls-tree", "-r", "--name-only", branch).splitlines())
    assert tree == {".gitignore", "README.md", "new.txt", "tracked.log"}


def test_a_checkout_replaced_by_a_link_gives_no_diff(tmp_path: Path) -> None:
    # Unconfined: a sandboxed agent cannot rename the checkout at all; this is the worker's
    # own check, for where no sandbox runs.
    agents = """
[agents.relinker]
command = ["sh", "-c", "cd .. && mv checkout moved && ln -s /etc checkout"]
"""
    (tmp_path / "config").mkdir()
    config = write_config(tmp_path, agents, server_extra='sandbox = "none"')
    srv = Server(tmp_path / "data", tmp_path / "config", config).start()
    try:
        with srv.client(srv.add_user("ada@example.com", tier="pro")) as api:
            job = submit(api, "# Relink\n", make_repo(tmp_path / "repo"), agent="relinker")
            done = wait_status(api, job["id"])
            assert done["status"] == "failed"
            assert "replaced by a link" in done["error_message"]
            assert api.get(f"/jobs/{job['id']}/artifacts/diff").status_code == 404
    finally:
        srv.stop()
