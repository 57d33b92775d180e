"""Applying a job's diff: to the working tree (checked first with `git apply --check`, so a patch
that does not fit changes nothing), or as a commit on a new branch at the job's base commit (for
a follow-up's own step, at its parent's result: `parent_result`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ckrv.client import repo
from ckrv.contracts.jobmodel import short_id
from ckrv.errors import CkrvError, GitError, NotFound

_PATCH_FAILED = re.compile(r"^error: patch failed: (.+):\d+$")
_CANNOT_READ = re.compile(r"^error: cannot read the current contents of '(.+)'$")
_PATH_ERROR = re.compile(
    r"^error: (.+?): (?:patch does not apply|already exists in (?:working directory|index)"
    r"|does not exist in (?:index|working tree)|does not match index|No such file or directory"
    r"|wrong type|has type .*)$"
)


class PatchConflict(CkrvError):
    """The diff does not apply to the working tree; nothing was changed."""

    def __init__(self, message: str, files: list[str], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.files = files


def conflicting_files(stderr: str) -> list[str]:
    """The paths `git apply` complained about, in order, once each."""
    found: dict[str, None] = {}
    for line in stderr.splitlines():
        for pattern in (_PATCH_FAILED, _CANNOT_READ, _PATH_ERROR):
            match = pattern.match(line.strip())
            if match:
                found[match.group(1)] = None
                break
    return list(found)


def _apply_args(three_way: bool) -> list[str]:
    return ["apply", "--whitespace=nowarn", *(["--3way"] if three_way else [])]


def check(root: Path, patch: bytes, *, three_way: bool = False) -> None:
    """Raise PatchConflict, naming the files, when `patch` does not apply at `root`."""
    result = repo.git(root, *_apply_args(three_way), "--check", "-", input=patch, check=False)
    if result.returncode == 0:
        return
    stderr = result.stderr.decode("utf-8", "replace")
    files = conflicting_files(stderr)
    listing = ", ".join(files) if files else stderr.strip()
    raise PatchConflict(f"the diff does not apply to your working tree: {listing}", files)


class MergeConflicts(CkrvError):
    """A three-way apply that left conflict markers in `files` (the rest of the diff applied)."""

    def __init__(self, message: str, files: list[str], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.files = files


def apply_to_worktree(root: Path, patch: bytes, *, three_way: bool = False) -> None:
    """Apply `patch` to the working tree at `root` (and the index with --3way), all or nothing;
    with --3way, hunks that conflict are merged with markers and MergeConflicts names them."""
    if not patch.strip():
        return
    check(root, patch, three_way=three_way)
    done = repo.git(root, *_apply_args(three_way), "-", input=patch, check=not three_way)
    if done.returncode == 0:
        return
    conflicted = unmerged_files(root)
    if not conflicted:
        detail = done.stderr.decode("utf-8", "replace").strip()
        raise CkrvError(f"git apply --3way failed: {detail}")
    raise MergeConflicts(
        f"the diff was applied, with conflicts in {', '.join(conflicted)}: git left conflict "
        "markers (<<<<<<< ======= >>>>>>>) in them",
        conflicted,
    )


def unmerged_files(root: Path) -> list[str]:
    """The paths with unresolved merge conflicts in the index."""
    return repo.text(root, "diff", "--name-only", "--diff-filter=U").splitlines()


def created_files(root: Path, patch: bytes) -> list[str]:
    """The paths `patch` creates (`git apply --summary`'s `create mode` lines)."""
    if not patch.strip():
        return []
    summary = repo.git(root, "apply", "--summary", "-", input=patch).stdout.decode(
        "utf-8", "replace"
    )
    return [
        line.split(maxsplit=3)[3]
        for line in summary.splitlines()
        if line.strip().startswith("create mode ") and len(line.split(maxsplit=3)) == 4
    ]


def diffstat(root: Path, patch: bytes) -> str:
    if not patch.strip():
        return ""
    return repo.git(root, "apply", "--stat", "-", input=patch).stdout.decode("utf-8", "replace")


@dataclass(frozen=True)
class BranchResult:
    branch: str
    commit: str
    base_commit: str


def commit_message(job: dict[str, Any]) -> str:
    title = job.get("spec_title") or "ckrv job"
    summary = job.get("result_summary") or ""
    body = f"\n\n{summary}" if summary and summary != title else ""
    return f"{title}{body}\n\nckrv job {job['id']}\n"


def apply_on_branch(
    root: Path, job: dict[str, Any], patch: bytes, branch: str, *, three_way: bool = False
) -> BranchResult:
    """Create `branch` at the job's base commit (fetching it when missing) holding one commit:
    the diff, with the job's summary as its message. The working tree is not touched."""
    base = job.get("base_commit")
    if not base:
        raise CkrvError(f"job {job['id']} has no base commit recorded; it cannot be branched from")
    repo.check_new_branch(root, branch)
    repo.fetch_commit(root, job["git_repo_url"], base, job["git_base_branch"])
    commit = repo.commit_patch(root, base, patch, commit_message(job), three_way=three_way)
    repo.create_branch(root, branch, commit)
    return BranchResult(branch, commit, base)


@dataclass(frozen=True)
class ParentResult:
    commit: str
    # None: the parent's own result commit; else why it was rebuilt here from the thread's
    # base and the parent's diff ("it was never pushed", "it could not be fetched: REASON")
    rebuilt: str | None


def parent_result(
    root: Path, job: dict[str, Any], parent_diff: Callable[[], bytes]
) -> ParentResult:
    """The commit the follow-up `job` started from (its parent's result) in `root`: there
    already, else fetched from the repository (a pushed thread has it on its feature branch),
    else rebuilt: the thread's base commit with the parent's diff (`parent_diff()`: the
    thread's whole change up to the parent) committed on it, which has the parent's result's
    files though not its commit id. NotFound (exit 4) when even that cannot be done."""
    start, url = job["start_commit"], job["git_repo_url"]
    failed = repo.fetch_branch_commit(root, url, start, job["feature_branch_name"])
    if failed is None:
        return ParentResult(start, rebuilt=None)
    # the remote has no such commit (never pushed, or pushed over since), or it was not reached
    why = f"could not be fetched: {failed}" if failed else "was never pushed"
    parent = short_id(job["parent"])
    result = f"job {parent}'s result {start[:12]} (where this step starts)"
    try:
        repo.fetch_commit(root, url, job["base_commit"], job["git_base_branch"])
        patch = parent_diff()
        message = (
            f"ckrv: the thread up to job {parent}\n\nRebuilt from job {job['parent']}'s diff "
            f"on the thread's base commit: its result commit {start} {why}.\n"
        )
        commit = repo.commit_patch(root, job["base_commit"], patch, message)
        return ParentResult(commit, rebuilt=f"it {why}")
    except (GitError, NotFound) as exc:
        raise NotFound(
            f"cannot start a branch at job {short_id(job['id'])}'s parent: {result} {why}, and "
            f"it cannot be rebuilt here: {exc.message}",
            hint=f"take the thread's whole change instead: `ckrv pull {short_id(job['id'])} "
            "--branch NAME` (without --delta)",
        ) from exc
