"""`ckrv pull` as a user runs it (in-process) in real checkouts, the job's diff made by real
workers on a real server."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import user_checkout
from tests.support.helpers import Server, git, make_repo
from tests.support.inprocess import InProcessCli
from tests.support.jobhelpers import submit, wait_status

# A user in a checkout of `origin`: the shared fixtures (tests/support/user_checkout.py).
api, checkout, ckrv = user_checkout.api, user_checkout.checkout, user_checkout.ckrv

APP = "".join(f"line {i}\n" for i in range(1, 11))
SPEC = (
    "# Tune line five\nwrite app.py "
    + APP.replace("line 5\n", "line FIVE\n").replace("\n", "\\n")
    + "\nwrite notes/new.txt brand new\\n\n"
)


@pytest.fixture(scope="module")
def token(live: Server) -> str:
    return live.add_user("puller@example.com", tier="enterprise")


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "remote", {"README.md": "# sample\n", "app.py": APP})


def finished(api: httpx.Client, spec: str, origin: Path) -> tuple[dict[str, Any], str]:
    job = wait_status(api, submit(api, spec, str(origin))["id"])
    diff = api.get(f"/jobs/{job['id']}/artifacts/diff")
    return job, diff.text if diff.status_code == 200 else ""


def snapshot(checkout: Path) -> dict[str, str]:
    return {
        str(p.relative_to(checkout)): p.read_text()
        for p in checkout.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }


def test_pull_applies_the_diff_and_prints_its_stat(
    api: httpx.Client, ckrv: InProcessCli, origin: Path, checkout: Path
) -> None:
    job, _diff = finished(api, SPEC, origin)
    result = ckrv.run("pull", job["id"][:8])
    assert result.returncode == 0, result.stderr
    assert (
        "app.py" in result.stdout
        and "2 files changed, 2 insertions(+), 1 deletion(-)" in result.stdout
    )
    assert "line FIVE\n" in (checkout / "app.py").read_text()
    assert (checkout / "notes/new.txt").read_text() == "brand new\n"


def test_pull_onto_a_conflicting_working_tree_leaves_it_untouched(
    api: httpx.Client, ckrv: InProcessCli, origin: Path, checkout: Path
) -> None:
    job, _diff = finished(api, SPEC, origin)
    (checkout / "app.py").write_text(APP.replace("line 5\n", "line five, mine\n"))
    before = snapshot(checkout)
    result = ckrv.run("pull", job["id"][:8])
    assert result.returncode == 1
    assert "does not apply to your working tree: app.py" in result.stderr
    assert "nothing was changed" in result.stderr
    assert (
        f"--branch ckrv/tune-line-five-{job['id'][:8]}" in result.stderr
        and "--output" in result.stderr
    )
    assert snapshot(checkout) == before  # notes/new.txt, which would have applied, is not there


def test_pull_branch_is_exact_when_the_checkout_has_moved_on(
    api: httpx.Client, ckrv: InProcessCli, origin: Path, checkout: Path, tmp_path: Path
) -> None:
    # Someone pushes after the user cloned; the job runs on that newer main, whose commit the
    # user's checkout does not have yet. Meanwhile the user has committed work of their own.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    (other / "README.md").write_text("# sample, pushed later\n")
    git(other, "commit", "-qam", "pushed later")
    git(other, "push", "-q", "origin", "main")
    job, diff = finished(api, SPEC, origin)
    assert not git(checkout, "cat-file", "-t", job["base_commit"], check=False)
    (checkout / "app.py").write_text(APP.replace("line 5\n", "line five, mine\n"))
    git(checkout, "commit", "-qam", "my own work")
    (checkout / "scratch.txt").write_text("uncommitted\n")
    head, before = git(checkout, "rev-parse", "HEAD"), snapshot(checkout)

    result = ckrv.run("pull", job["id"][:8], "--branch", "tuned")
    assert result.returncode == 0, result.stderr
    assert "created branch tuned" in result.stdout and "git switch tuned" in result.stdout
    assert git(checkout, "rev-parse", "tuned^") == job["base_commit"]
    assert git(checkout, "diff", "--binary", job["base_commit"], "tuned") + "\n" == diff
    message = git(checkout, "log", "-1", "--format=%B", "tuned")
    assert message.startswith("Tune line five\n") and job["result_summary"] in message
    assert git(checkout, "rev-parse", "HEAD") == head and snapshot(checkout) == before

    again = ckrv.run("pull", job["id"][:8], "--branch", "tuned")
    assert again.returncode == 2 and "branch tuned already exists" in again.stderr


def test_3way_is_passed_to_git_apply(
    api: httpx.Client, ckrv: InProcessCli, origin: Path, checkout: Path
) -> None:
    job, _diff = finished(api, SPEC, origin)
    # line 3 is in the hunk's context: a plain apply refuses, a three-way merge does not
    (checkout / "app.py").write_text(APP.replace("line 3\n", "line three\n"))
    git(checkout, "commit", "-qam", "edit line 3")
    assert ckrv.run("pull", job["id"][:8]).returncode == 1
    merged = ckrv.run("pull", job["id"][:8], "--3way")
    assert merged.returncode == 0, merged.stderr
    assert (checkout / "app.py").read_text() == APP.replace("line 3\n", "line three\n").replace(
        "line 5\n", "line FIVE\n"
    )


def test_the_suggested_commit_includes_the_files_the_job_created(
    api: httpx.Client, ckrv: InProcessCli, origin: Path, checkout: Path
) -> None:
    job, _diff = finished(api, SPEC, origin)
    result = ckrv.run("pull", job["id"][:8])
    assert result.returncode == 0, result.stderr
    assert "1 new file included" in result.stdout
    suggested = next(
        line.split("   #")[0].removeprefix("next:").strip()
        for line in result.stdout.splitlines()
        if "git commit" in line
    )
    assert suggested == "git add notes/new.txt && git commit -am 'Tune line five'"
    subprocess.run(["sh", "-c", suggested], cwd=checkout, check=True, capture_output=True)
    assert git(checkout, "status", "--porcelain") == ""  # nothing the job made was left out


def test_3way_conflicts_name_the_files_and_what_to_do(
    api: httpx.Client, ckrv: InProcessCli, origin: Path, checkout: Path
) -> None:
    job, _diff = finished(api, SPEC, origin)
    (checkout / "app.py").write_text(APP.replace("line 5\n", "line five, mine\n"))
    git(checkout, "commit", "-qam", "my line 5")
    result = ckrv.run("pull", job["id"][:8], "--3way")
    assert result.returncode == 1
    assert "the diff was applied, with conflicts in app.py" in result.stderr
    assert "git add app.py" in result.stderr and "git checkout HEAD -- app.py" in result.stderr
    assert "<<<<<<<" in (checkout / "app.py").read_text()
    assert (checkout / "notes/new.txt").read_text() == "brand new\n"  # the rest applied


def test_output_writes_the_patch_and_no_apply_prints_it(
    api: httpx.Client, ckrv: InProcessCli, origin: Path, checkout: Path, tmp_path: Path
) -> None:
    job, diff = finished(api, SPEC, origin)
    patch = tmp_path / "job.patch"
    written = ckrv.run("pull", job["id"][:8], "--output", str(patch))
    assert written.returncode == 0, written.stderr
    assert patch.read_text() == diff and f"git apply {patch}" in written.stdout
    printed = ckrv.run("pull", job["id"][:8], "--no-apply")
    assert printed.returncode == 0 and printed.stdout == diff
    assert git(checkout, "status", "--porcelain") == ""  # neither touched the checkout
    both = ckrv.run("pull", job["id"][:8], "--no-apply", "--branch", "x")
    assert both.returncode == 2


def test_pull_of_an_unsuccessful_or_unfinished_job_exits_non_zero_with_a_hint(
    api: httpx.Client, ckrv: InProcessCli, origin: Path, checkout: Path
) -> None:
    failed, _ = finished(api, "stderr cannot do it\nexit 4\n", origin)
    result = ckrv.run("pull", failed["id"][:8])
    assert result.returncode == 7
    assert f"job {failed['id'][:8]} ended failed: the agent exited with code 4" in result.stderr
    assert f"ckrv logs {failed['id'][:8]}" in result.stderr

    slow = submit(api, "sleep 30\n", str(origin))
    unfinished = ckrv.run("pull", slow["id"][:8])
    assert unfinished.returncode == 1 and "it has no result yet" in unfinished.stderr
    api.post(f"/jobs/{slow['id']}/cancel")
    assert git(checkout, "status", "--porcelain") == ""


def test_pull_of_a_job_that_changed_nothing(
    api: httpx.Client, ckrv: InProcessCli, origin: Path
) -> None:
    job, diff = finished(api, "print nothing to change\n", origin)
    assert job["status"] == "succeeded" and diff == ""
    result = ckrv.run("pull", job["id"][:8])
    assert result.returncode == 0 and "changed nothing" in result.stdout
