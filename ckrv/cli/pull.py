"""`ckrv pull JOB`: bring a succeeded job's diff here: into the working tree, onto a new branch,
into a file, or to stdout."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ckrv.cli.context import api_url, streams, user_api
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.output import visible
from ckrv.contracts.jobmodel import short_id

if TYPE_CHECKING:
    from ckrv.client.api import Api


@dataclass(frozen=True)
class PullOptions:
    api_url: str
    job: str
    output: Path | None = None
    no_apply: bool = False
    branch: str | None = None
    three_way: bool = False
    require_verified: bool = False
    attempt: int | None = None  # of a group (JOB is then its id)
    delta: bool = False  # a follow-up's own step, not its thread's whole change


def run_pull(opts: PullOptions, io: IOStreams) -> None:
    from ckrv.client.groups import find_target
    from ckrv.client.jobs import fetch_diff, require_success, require_verified

    rebuilt: str | None = None
    if opts.branch is not None:  # before anything is fetched or made for it
        from ckrv.client import repo

        repo.check_new_branch(repo.find_root(), opts.branch)
    with user_api(opts.api_url) as api:
        found = find_target(api, opts.job, opts.attempt)
        require_success(found)
        if opts.require_verified:
            require_verified(found)
        patch = fetch_diff(api, found["id"], delta=opts.delta)
        if opts.delta and found.get("start_commit"):  # the step starts from the parent's result
            start = found["start_commit"]
            if opts.branch is not None and patch.strip():
                start, rebuilt = _parent_result(api, found)
            found = {**found, "base_commit": start}
    sid = short_id(found["id"])
    if opts.no_apply:
        io.out_bytes(patch)
    elif opts.output is not None:
        opts.output.write_bytes(patch)
        io.out(f"wrote the diff of job {sid} to {opts.output} ({len(patch)} bytes)")
        _next(io, [(f"git apply {opts.output}", "apply it when you are ready")])
    elif not patch.strip():
        io.out(f"job {sid} changed nothing; there is nothing to apply")
    elif opts.branch is not None:
        _to_branch(io, found, patch, opts.branch, opts.three_way, rebuilt)
    else:
        _to_worktree(io, found, patch, opts.three_way)


def _parent_result(api: Api, job: dict[str, Any]) -> tuple[str, str | None]:
    """Where a follow-up's own step goes on a branch: its parent's result, rebuilt here from
    the parent's diff when it was never pushed (client/apply.py `parent_result`)."""
    from ckrv.client import apply, repo
    from ckrv.client.jobs import fetch_diff

    root = repo.find_root()
    found = apply.parent_result(root, job, lambda: fetch_diff(api, job["parent"]))
    return found.commit, found.rebuilt


@click.command()
@click.argument("job")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the patch to FILE instead of applying it.",
)
@click.option("--no-apply", is_flag=True, help="Print the patch to stdout instead of applying it.")
@click.option(
    "--branch",
    "-b",
    metavar="NAME",
    help="Create branch NAME at the job's base commit with the diff committed on it; your "
    "working tree is left as it is.",
)
@click.option(
    "--3way", "three_way", is_flag=True, help="Passed to `git apply` (merge on conflict)."
)
@click.option(
    "--delta",
    is_flag=True,
    help="For a follow-up (ckrv continue): only its own step, not the thread's whole change "
    "since its base. With --branch the branch starts at its parent's result.",
)
@click.option(
    "--require-verified",
    is_flag=True,
    help="Refuse (exit 8) unless the job's result passed its verify commands.",
)
@click.option(
    "--attempt",
    type=click.IntRange(min=1),
    metavar="K",
    help="With a group id: this attempt instead of the group's pick.",
)
def pull(
    job: str,
    output: Path | None,
    no_apply: bool,
    branch: str | None,
    three_way: bool,
    delta: bool,
    require_verified: bool,
    attempt: int | None,
) -> None:
    """Apply a succeeded job's diff to the repository in the current directory.

    A follow-up's diff (ckrv continue) is its thread's whole change since the thread's base
    commit; --delta takes only its own step, from its parent's result. `--delta --branch NAME`
    starts NAME at the parent's result commit: from this repository, else fetched from the
    job's repository (where a pushed thread has it), else, when the parent never pushed or
    the fetch failed (it says which, and why), rebuilt here as one commit holding the parent's diff (its files, a different commit id)
    on the thread's base commit. When even that cannot be done (the parent's diff expired, the
    base commit is gone) it exits 4 and changes nothing.

    The diff is checked with `git apply --check` first, so when it does not fit nothing is
    changed. With --branch it is committed on a new branch at the job's base commit instead
    (fetched when missing), which is exact even when your checkout has moved on.

    JOB may be a group's id (g-...): its pick is pulled (`ckrv compare GROUP --pick auto` says
    which and why), or attempt K with --attempt K.

    \b
    Example:
      ckrv pull 3f8a9b2c
      ckrv pull 3f8a9b2c --branch add-retry
      ckrv pull 3f8a9b2c --output add-retry.patch
      ckrv pull 3f8a9b2c --require-verified
      ckrv pull g-7kq3m2xa --attempt 2
      ckrv pull 3f8a9b2c --delta     # a follow-up's last step only
      ckrv pull 3f8a9b2c --delta --branch step-2   # ... on a branch at its parent's result
    """
    if sum((output is not None, no_apply, branch is not None)) > 1:
        raise click.UsageError("use only one of --output, --no-apply and --branch")
    run_pull(
        PullOptions(
            api_url(), job, output, no_apply, branch, three_way, require_verified, attempt, delta
        ),
        streams(),
    )


def _to_worktree(io: IOStreams, job: dict[str, Any], patch: bytes, three_way: bool) -> None:
    from ckrv.client import apply, repo

    sid = short_id(job["id"])
    root = repo.find_root()
    _warn_other_repository(io, root, job)
    try:
        apply.apply_to_worktree(root, patch, three_way=three_way)
    except apply.PatchConflict as exc:
        exc.hint = (
            f"nothing was changed. Apply it on a fresh branch at the job's base commit: "
            f"`ckrv pull {sid} --branch {job.get('feature_branch_name') or 'NAME'}`, or save it: "
            f"`ckrv pull {sid} --output {sid}.patch`"
            + ("" if three_way else ", or merge it in: `--3way`")
        )
        raise
    except apply.MergeConflicts as exc:
        files = " ".join(shlex.quote(f) for f in exc.files)
        exc.hint = (
            f"edit each to keep what you want, then `git add {files}` and commit; or drop the "
            f"job's changes to them: `git checkout HEAD -- {files}`"
        )
        raise
    io.out(f"applied the diff of job {sid} to {root}")
    io.out(apply.diffstat(root, patch).rstrip())
    _next(io, _commit_steps(apply.created_files(root, patch), _title(job), staged=three_way))


def _commit_steps(created: list[str], title: str, *, staged: bool) -> list[tuple[str, str]]:
    """Review and commit, the files the job created included: a plain apply leaves them
    untracked, so `git commit -a` alone would miss them (--3way adds them to the index)."""
    message = shlex.quote(title)
    if not created:
        return [("git diff", "review the changes"), (f"git commit -am {message}", "commit them")]
    count = f"{len(created)} new file{'s' if len(created) > 1 else ''}"
    if staged:
        add = ""
    elif len(created) <= 4:
        add = f"git add {' '.join(shlex.quote(f) for f in created)} && "
    else:
        add = "git add -A && "  # also any untracked file of yours: `git status` shows which
    return [
        ("git status", f"what changed: {count} included"),
        ("git diff", "review the changes to files you had"),
        (f"{add}git commit -am {message}", "commit them, the new files too"),
    ]


def _to_branch(
    io: IOStreams,
    job: dict[str, Any],
    patch: bytes,
    branch: str,
    three_way: bool,
    rebuilt: str | None = None,
) -> None:
    from ckrv.client import apply, repo

    root = repo.find_root()
    _warn_other_repository(io, root, job)
    result = apply.apply_on_branch(root, job, patch, branch, three_way=three_way)
    where = "the job's base commit"
    if rebuilt:
        where = f"its parent's result, rebuilt from the parent's diff ({rebuilt}),"
    elif job.get("start_commit") == job["base_commit"]:
        where = "its parent's result"
    io.out(
        f"created branch {io.paint(branch, 'green')} at {where} {result.base_commit[:12]} "
        f"with its diff as commit {result.commit[:12]}"
    )
    io.out(apply.diffstat(root, patch).rstrip())
    _next(
        io,
        [
            (f"git switch {branch}", "check it out"),
            (f"git diff {result.base_commit[:12]} {branch}", "review the changes"),
            (f"git merge {branch}", "or merge it into your current branch"),
        ],
    )


def _warn_other_repository(io: IOStreams, root: Path, job: dict[str, Any]) -> None:
    from ckrv.client import repo

    origin = repo.origin_url(root)
    if origin is not None and not repo.same_repository(origin, job["git_repo_url"]):
        io.warning(f"this checkout's origin is {origin}; the job ran on {job['git_repo_url']}")


def _title(job: dict[str, Any]) -> str:
    return visible(str(job.get("spec_title") or "ckrv job"), lines=False)


def _next(io: IOStreams, commands: list[tuple[str, str]]) -> None:
    from ckrv.cli.jobcard import next_block

    io.out("\n".join(next_block(commands, io)))
