"""A follow-up's start and a job's kept result. A follow-up starts from its parent's result
commit: the worker clones the base branch as for any job, takes the parent's commits from the
bundle the server kept (`GET /v1/worker/jobs/{id}/parent/bundle`) and checks the result out on
the thread's feature branch, before any command runs. Every job leaves its result's commits
since the thread's base as a bundle for the next step, whether or not it pushed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ckrv.contracts.job_description import JobDescription
from ckrv.errors import GitError
from ckrv.worker.gitops import Git


def check_out_start(
    job: JobDescription,
    git: Git,
    checkout: Path,
    private: Path,
    parent_bundle: Callable[[], bytes],
) -> str:
    """Put the parent's result on the feature branch in the fresh clone; the thread's base."""
    start, base = job.start_commit, job.base_commit
    assert start is not None and base is not None
    if git.run("cat-file", "-t", base, cwd=checkout, check=False) != "commit":
        raise GitError(
            f"the thread's base commit {base[:12]} is no longer on {job.git_base_branch}: "
            "start a new job instead of a follow-up"
        )
    if start != base:
        bundle = private / "parent.bundle"
        bundle.write_bytes(parent_bundle())
        try:
            git.run("bundle", "unbundle", str(bundle), cwd=checkout)
        except GitError as exc:
            raise GitError(f"cannot take the parent's result: {exc.message}") from exc
        finally:
            bundle.unlink(missing_ok=True)
    git.run("checkout", "--quiet", "-B", job.feature_branch_name, start, cwd=checkout)
    return base
