"""`ckrv pull JOB`: bring a succeeded job's diff here: into the working tree, onto a new branch,
into a file, or to stdout."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ckrv.cli.context import user_api
from ckrv.cli.output import emit_warning, paint
from ckrv.contracts.jobmodel import short_id


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
def pull(
    job: str, output: Path | None, no_apply: bool, branch: str | None, three_way: bool
) -> None:
    """Apply a succeeded job's diff to the repository in the current directory.

    The diff is checked with `git apply --check` first, so when it does not fit nothing is
    changed. With --branch it is committed on a new branch at the job's base commit instead
    (fetched when missing), which is exact even when your checkout has moved on.

    \b
    Example:
      ckrv pull 3f8a9b2c
      ckrv pull 3f8a9b2c --branch add-retry
      ckrv pull 3f8a9b2c --output add-retry.patch
    """
    from ckrv.client.jobs import fetch_diff, find_job, require_success

    if sum((output is not None, no_apply, branch is not None)) > 1:
        raise click.UsageError("use only one of --output, --no-apply and --branch")
    with user_api() as api:
        found = find_job(api, job)
        require_success(found)
        patch = fetch_diff(api, found["id"])
    sid = short_id(found["id"])
    if no_apply:
        sys.stdout.buffer.write(patch)
        sys.stdout.flush()
    elif output is not None:
        output.write_bytes(patch)
        click.echo(f"wrote the diff of job {sid} to {output} ({len(patch)} bytes)")
        _next([(f"git apply {output}", "apply it when you are ready")])
    elif not patch.strip():
        click.echo(f"job {sid} changed nothing; there is nothing to apply")
    elif branch is not None:
        _to_branch(found, patch, branch, three_way)
    else:
        _to_worktree(found, patch, three_way)


def _to_worktree(job: dict[str, Any], patch: bytes, three_way: bool) -> None:
    from ckrv.client import apply, repo

    sid = short_id(job["id"])
    root = repo.find_root()
    _warn_other_repository(root, job)
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
    click.echo(f"applied the diff of job {sid} to {root}")
    click.echo(apply.diffstat(root, patch).rstrip())
    _next(
        [
            ("git diff", "review the changes"),
            (f'git commit -am "{_title(job)}"', "commit them"),
        ]
    )


def _to_branch(job: dict[str, Any], patch: bytes, branch: str, three_way: bool) -> None:
    from ckrv.client import apply, repo

    root = repo.find_root()
    _warn_other_repository(root, job)
    result = apply.apply_on_branch(root, job, patch, branch, three_way=three_way)
    click.echo(
        f"created branch {paint(branch, 'green')} at the job's base commit "
        f"{result.base_commit[:12]} with its diff as commit {result.commit[:12]}"
    )
    click.echo(apply.diffstat(root, patch).rstrip())
    _next(
        [
            (f"git switch {branch}", "check it out"),
            (f"git diff {result.base_commit[:12]} {branch}", "review the changes"),
            (f"git merge {branch}", "or merge it into your current branch"),
        ]
    )


def _warn_other_repository(root: Path, job: dict[str, Any]) -> None:
    from ckrv.client import repo

    origin = repo.origin_url(root)
    if origin is not None and not repo.same_repository(origin, job["git_repo_url"]):
        emit_warning(f"this checkout's origin is {origin}; the job ran on {job['git_repo_url']}")


def _title(job: dict[str, Any]) -> str:
    return str(job.get("spec_title") or "ckrv job").replace('"', "'")


def _next(commands: list[tuple[str, str]]) -> None:
    from ckrv.cli.jobs import next_block

    click.echo("\n".join(next_block(commands)))
