"""The worker pipeline, the same under every executor and for local runs: clone the base branch,
branch, run setup, run the agent, verify, then commit and diff. It reports through a Reporter and
returns an Outcome; it never talks HTTP itself."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ckrv.contracts.masking import scrub
from ckrv.diffstat import diffstat_text
from ckrv.errors import GitError, WorkerError
from ckrv.worker.confine import end_leftovers
from ckrv.worker.context import JobContext, Outcome, failure
from ckrv.worker.egress import start_egress, stated
from ckrv.worker.followup import check_out_start
from ckrv.worker.gitauth import (
    base_git_env,
    credential_env,
    explain_clone_failure,
    forget_credential_files,
)
from ckrv.worker.gitops import Git
from ckrv.worker.hostpin import explain_redirect, pin_repository_host
from ckrv.worker.ownedrepo import OwnedRepo
from ckrv.worker.steps import (
    AgentRun,
    agent_until_verified,
    rounds_used,
    run_step,
    verify_note,
)


def _clone(ctx: JobContext, git: Git, private: Path) -> str:
    job = ctx.job
    ctx.reporter.event(phase="cloning")
    ctx.say(f"cloning {scrub(job.git_repo_url, ctx.masker)} (branch {job.git_base_branch})")
    try:
        git.clone(job.git_repo_url, job.git_base_branch, ctx.checkout)
    except GitError as exc:  # an authentication failure says what to fix, then git's words
        clear = explain_clone_failure(exc.message, job.git_repo_url, ctx.credential)
        clear = clear or explain_redirect(exc.message, git.flags)
        if clear is None:
            raise
        raise GitError(f"{clear}\n{exc.message}") from exc
    if job.start_commit is not None:  # a follow-up: from its parent's result
        base = check_out_start(job, git, ctx.checkout, private, ctx.reporter.parent_bundle)
        ctx.say(f"continuing from {job.start_commit[:12]} (thread base {base[:12]})")
    else:
        base = git.run("rev-parse", "HEAD", cwd=ctx.checkout)
        git.run("checkout", "--quiet", "-b", job.feature_branch_name, cwd=ctx.checkout)
    ctx.reporter.event(base_commit=base, feature_branch_name=job.feature_branch_name)
    ctx.say(f"base commit {base[:12]}, feature branch {job.feature_branch_name}")
    return base


def _upload(
    ctx: JobContext,
    repo: OwnedRepo,
    base: str,
    run: AgentRun,
    credential_env: Callable[[], dict[str, str]],
    pin_flags: tuple[str, ...],
) -> Outcome:
    """Commit, diff and push from the worker's own repository (ownedrepo.py): nothing the
    agent left in the checkout's .git runs or is read."""
    ctx.reporter.event(phase="uploading")
    title = ctx.job.spec_title or "ckrv job"
    repo.reclaim()
    message = f"{title}\n\nckrv job {ctx.job.id}"
    start = ctx.job.start_commit or base
    commit = repo.commit_worktree(ctx.checkout, start, message) or start
    agent_code = run.exit_code
    verified_note = verify_note(run)
    if commit == base:
        ctx.say("the agent made no changes")
        return Outcome(
            "succeeded",
            summary=f"The agent made no changes (exit code {agent_code}){verified_note}.",
            diff=b"",
            diff_stats={"files_changed": 0, "insertions": 0, "deletions": 0},
            agent_exit_code=agent_code,
            base_commit=base,
            transcripts=ctx.transcripts,
            verified=run.verified,
            rounds=rounds_used(run),
            result_commit=base,
            delta=b"" if ctx.job.start_commit else None,
            cost_usd=ctx.cost_usd,
        )
    diff = repo.diff(base, commit)
    limit = ctx.job.max_diff_bytes
    if len(diff) > limit:
        return failure(
            ctx,
            f"the diff is {len(diff)} bytes, over the server's limit of {limit} bytes",
            agent_exit_code=agent_code,
            base_commit=base,
            verified=run.verified,
            rounds=rounds_used(run),
        )
    stats = repo.diff_stats(base, commit)
    delta = repo.diff(start, commit) if ctx.job.start_commit else None
    step_note = "; this step changed nothing" if delta == b"" else ""
    pushed, push_note = _push(ctx, repo, commit, credential_env, pin_flags)
    summary = (
        f"{title}: {diffstat_text(stats)}{step_note}; agent exit code {agent_code}"
        f"{verified_note}{push_note}"
    )
    ctx.say(summary)
    return Outcome(
        "succeeded",
        summary=summary,
        diff=diff,
        diff_stats=stats,
        agent_exit_code=agent_code,
        base_commit=base,
        pushed_branch=pushed,
        transcripts=ctx.transcripts,
        verified=run.verified,
        rounds=rounds_used(run),
        result_commit=commit,
        delta=delta,
        bundle=_kept_bundle(ctx, repo, base, commit),
        cost_usd=ctx.cost_usd,
    )


def _kept_bundle(ctx: JobContext, repo: OwnedRepo, base: str, commit: str) -> bytes | None:
    """The result's commits for a follow-up; none (and a line saying so) past the limit."""
    bundle = repo.bundle(base, commit)
    if len(bundle) > ctx.job.max_diff_bytes:
        ctx.say("the result's bundle is over the server's limit: it cannot be continued", "warn")
        return None
    return bundle


def _push(
    ctx: JobContext,
    repo: OwnedRepo,
    commit: str,
    credential_env: Callable[[], dict[str, str]],
    pin_flags: tuple[str, ...],
) -> tuple[str | None, str]:
    """Push the feature branch when the job asked to. A failed push does not throw the diff
    away: the job still succeeds, and the summary and log say why the push failed."""
    if not ctx.job.push:
        return None, ""
    branch = ctx.job.feature_branch_name
    ctx.say(f"pushing {branch} to origin")
    try:
        # the credential's files again (gone while the commands ran), for the push only
        repo.push(credential_env(), ctx.job.git_repo_url, commit, branch, pin_flags)
    except GitError as exc:
        ctx.say(f"push failed: {exc.message}", "error")
        return None, "; push failed (see the log)"
    ctx.say(f"pushed {branch}")
    return branch, f"; pushed {branch}"


def run_job(ctx: JobContext) -> Outcome:
    """Run every phase; failures become a failed Outcome with a clear message."""
    private = Path(tempfile.mkdtemp(prefix="ckrv-git-", dir=ctx.private_dir))
    try:
        # resolved once, checked, and every git that connects is pinned to it
        pin = pin_repository_host(ctx.job.git_repo_url, ctx.job.refuse_private_hosts)

        def restore_credentials() -> dict[str, str]:
            env = credential_env(
                ctx.credential,
                ctx.job.git_repo_url,
                private,
                known_hosts_policy=ctx.job.ssh_known_hosts,
            )
            ssh = pin.ssh_command(env.get("GIT_SSH_COMMAND"))
            return {**env, "GIT_SSH_COMMAND": ssh} if ssh else env

        env = {**os.environ, **base_git_env(ctx.job.allow_local_repositories)}
        git = Git({**env, **restore_credentials()}, ctx.masker, pin.git_flags)
        base = _clone(ctx, git, private)
        forget_credential_files(private)  # commands run from here on: no key on their disk
        repo = OwnedRepo.copy_of(ctx.checkout, private, env, ctx.masker)
        ctx.say(stated(ctx.job.network))
        ctx.egress = start_egress(ctx.job.network, ctx.say)
        if ctx.sandbox is not None:
            ctx.sandbox.enter([ctx.checkout])
        setup = ctx.job.setup
        if setup:
            ctx.reporter.event(phase="setup")
            ctx.say(f"setup: {setup}")
            done = run_step(ctx, ["sh", "-c", setup], "setup", None)
            if done.exit_code != 0:
                return failure(
                    ctx, f"the setup command exited with code {done.exit_code}", base_commit=base
                )
        run = agent_until_verified(ctx, base)
        if isinstance(run, Outcome):
            return run
        end_leftovers()  # nothing the commands started may watch the push or outlive the job
        if ctx.sandbox is not None:
            ctx.sandbox.leave([ctx.checkout])
        return _upload(ctx, repo, base, run, restore_credentials, pin.git_flags)
    except (GitError, WorkerError) as exc:
        return failure(ctx, exc.message)
    finally:
        end_leftovers()
        if ctx.egress is not None:
            ctx.egress.close()
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(ctx.checkout, ignore_errors=True)
