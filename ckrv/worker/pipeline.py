"""The worker pipeline, the same under every executor and for local runs: clone the base branch,
branch, run setup, run the agent, verify, then commit and diff. It reports through a Reporter and
returns an Outcome; it never talks HTTP itself."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ckrv.contracts import launch_env
from ckrv.contracts.agents import PRESETS, PYTHON
from ckrv.contracts.credentials import GitCredential
from ckrv.contracts.job_description import JobDescription
from ckrv.contracts.jobmodel import WorkerResult
from ckrv.contracts.masking import Masker, scrub
from ckrv.diffstat import diffstat_text
from ckrv.errors import GitError, WorkerError
from ckrv.limits import DiskWatch, Limits, explain_end
from ckrv.sandbox import Sandbox, unconfined_command
from ckrv.worker.confine import end_leftovers
from ckrv.worker.egress import Egress, start_egress, stated
from ckrv.worker.followup import check_out_start
from ckrv.worker.gitauth import (
    base_git_env,
    credential_env,
    explain_clone_failure,
    forget_credential_files,
)
from ckrv.worker.gitops import Git
from ckrv.worker.history import EarlierStep, History, Transcript
from ckrv.worker.hostpin import explain_redirect, pin_repository_host
from ckrv.worker.ownedrepo import OwnedRepo
from ckrv.worker.process import Completed, LineSink, run_streaming
from ckrv.worker.reporter import Reporter

_PROMPT_ARG_LIMIT = 100 * 1024  # one argv string may not exceed 128 KiB on Linux


@dataclass
class Outcome:
    status: WorkerResult
    summary: str = ""
    error_message: str | None = None
    diff: bytes | None = None
    diff_stats: dict[str, int] | None = None
    agent_exit_code: int | None = None
    base_commit: str | None = None
    pushed_branch: str | None = None
    verified: bool | None = None  # None: no verify ran
    rounds: int | None = None  # fix rounds used (when verify ran)
    transcripts: list[str] = field(default_factory=list)  # one per verify run, masked
    result_commit: str | None = None
    delta: bytes | None = None  # a follow-up's own step (the diff is the thread's change)
    bundle: bytes | None = None  # the result's commits since the thread's base

    def result(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "summary": self.summary}
        if self.transcripts:
            body["verify_runs"] = len(self.transcripts)
        keys = ("error_message", "diff_stats", "agent_exit_code", "pushed_branch", "verified")
        for key in (*keys, "rounds", "result_commit"):
            if getattr(self, key) is not None:
                body[key] = getattr(self, key)
        return body


@dataclass
class JobContext:
    job: JobDescription
    workspace: Path
    reporter: Reporter
    masker: Masker
    credential: GitCredential | None = None
    agent_secrets: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    # Where the worker keeps its own repository and the credential's files: outside the
    # workspace (the executor makes it; else a new temporary directory).
    private_dir: Path | None = None
    egress: Egress | None = None  # set once the commands are about to run
    sandbox: Sandbox | None = None  # None: commands run unconfined (sandbox = "none")
    history: History | None = None  # what the agent is told (set when the agent first runs)
    transcripts: list[str] = field(default_factory=list)  # each verify run's, masked

    @property
    def limits(self) -> Limits:
        return Limits.from_description(self.job.limits)

    @property
    def checkout(self) -> Path:
        return self.workspace / "checkout"

    def say(self, message: str, level: str = "info") -> None:
        self.reporter.log("worker", self.masker.mask(message), level)

    def sink(self, source: str, message: str, level: str) -> None:
        self.reporter.log(source, self.masker.mask(message), level)

    def command_env(self) -> dict[str, str]:
        """Environment of setup, agent and verify: the worker's own, plus the agent secrets."""
        hidden = (*launch_env.SECRET_NAMES, "CKRV_GIT_")  # and git's askpass variables
        env = {k: v for k, v in os.environ.items() if not k.startswith(hidden)}
        env.update(self.extra_env)
        env.update(self.agent_secrets)
        return env


def substitute(command: list[str], spec_file: Path, prompt: str) -> list[str]:
    """The argv with `{spec_file}`, `{prompt}` and `{python}` replaced (contracts/agents.py)."""
    uses_prompt = any("{prompt}" in arg for arg in command)
    if uses_prompt and len(prompt.encode()) > _PROMPT_ARG_LIMIT:
        raise WorkerError(
            "the spec is too large to pass as {prompt} on the command line; configure the "
            "agent to read {spec_file} or its standard input (stdin = true) instead"
        )
    argv = [
        arg.replace("{spec_file}", str(spec_file)).replace("{prompt}", prompt) for arg in command
    ]
    return [sys.executable if arg == PYTHON else arg for arg in argv]


def _failure(ctx: JobContext, message: str, **extra: Any) -> Outcome:
    message = ctx.masker.mask(message)
    ctx.say(message, "error")
    return Outcome(
        "failed",
        summary=message.splitlines()[0][:300],
        error_message=message,
        transcripts=ctx.transcripts,
        **extra,
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


class LimitReached(WorkerError):
    """A command ended because of one of the job's resource limits."""


def _confined(ctx: JobContext, argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run a command in the job's sandbox with its network
    policy, or unconfined (its network policy alone) under the same rlimits."""
    env = ctx.command_env()
    egress = ctx.egress
    if ctx.sandbox is None:
        inner = egress.wrap(argv) if egress is not None else argv
        return unconfined_command(inner, ctx.limits), env
    sandbox = ctx.sandbox
    if egress is not None:
        sandbox = replace(sandbox, network=egress.network, proxy_socket=egress.socket)
        argv = egress.bridged(argv)
    return sandbox.command(argv, ctx.checkout), sandbox.environment(env)


def _run_step(
    ctx: JobContext,
    argv: list[str],
    source: str,
    timeout: float | None,
    sink: LineSink | None = None,
    stdin: bytes | None = None,
) -> Completed:
    """Run one command (`stdin`: what its standard input holds, else nothing); one that a
    resource limit ended raises LimitReached naming it."""
    wrapped, env = _confined(ctx, argv)
    limits = ctx.limits
    disk = DiskWatch(ctx.workspace, limits)
    done = run_streaming(
        wrapped,
        cwd=ctx.checkout,
        env=env,
        source=source,
        sink=sink or ctx.sink,
        timeout=timeout,
        should_stop=lambda: ctx.reporter.gone or disk.over(),
        stdin=stdin,
    )
    reason = disk.message() or explain_end(done.exit_code, done.last_lines, limits)
    if reason is not None:
        raise LimitReached(f"{reason} ({source} exited with code {done.exit_code})")
    return done


def _write_shared(ctx: JobContext, name: str, text: str) -> Path:
    path = ctx.workspace / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)  # for the agent, which a sandbox may run as another user
    return path


def _run_agent(ctx: JobContext) -> Completed | Outcome:
    agent = ctx.job.agent
    earlier = [EarlierStep(s["job_id"], s["spec"], s["summary"]) for s in ctx.job.earlier]
    history = ctx.history or History(ctx.job.spec_content, earlier)
    ctx.history = history
    # A preset is given the history as its spec; another agent the instruction alone (it
    # reads CKRV_HISTORY_FILE, and CKRV_VERIFY_OUTPUT_FILE in a fix round).
    spec = history.text() if agent.name in PRESETS else ctx.job.spec_content
    spec_file = _write_shared(ctx, "spec.md", spec)
    history_file = _write_shared(ctx, "history.md", history.text())
    argv = substitute(list(agent.command), spec_file, spec)
    ctx.extra_env[launch_env.SPEC_FILE] = str(spec_file)
    ctx.extra_env[launch_env.HISTORY_FILE] = str(history_file)
    if history.failures:
        failing = _write_shared(ctx, "verify-output.txt", history.failures[-1][1])
        ctx.extra_env[launch_env.VERIFY_OUTPUT_FILE] = str(failing)
    path = ctx.command_env().get("PATH")
    if shutil.which(argv[0], path=path) is None:
        hint = agent.install_hint or f"install {argv[0]} on the worker or fix [agents.{agent.name}]"
        return _failure(
            ctx,
            f"agent {agent.name!r} needs the command {argv[0]!r}, which is not "
            f"installed on the worker: {hint}",
        )
    ctx.reporter.event(phase="executing")
    ctx.say(f"running agent {agent.name}")
    stdin = spec.encode() if agent.stdin else None
    return _run_step(ctx, argv, agent.name, agent.timeout, stdin=stdin)


def verify_commands(job: JobDescription) -> list[list[str]]:
    """The job's verify commands (shell), else the agent's verify argv, else none."""
    if job.verify:
        return [["sh", "-c", command] for command in job.verify]
    return [list(job.agent.verify)] if job.agent.verify else []


def _verify(ctx: JobContext) -> bool | None:
    """Run the verify commands in order, up to the first that fails; None when there are
    none. The run's transcript is kept for upload."""
    commands = verify_commands(ctx.job)
    if not commands:
        return None
    ctx.reporter.event(phase="verifying")
    transcript = Transcript()
    passed = True
    for argv in commands:
        transcript.command(argv)
        ctx.say(f"verifying: {transcript.text().splitlines()[-1][2:]}")
        done = _run_step(ctx, argv, "verify", None, transcript.sink(ctx.sink, ctx.masker.mask))
        transcript.exited(done.exit_code)
        if done.exit_code != 0:
            passed = False
            break
    ctx.transcripts.append(ctx.masker.mask(transcript.text()))
    ctx.say(f"verify {'passed' if passed else 'failed'}", "info" if passed else "warn")
    return passed


def _agent_failed(ctx: JobContext, ran: Completed | Outcome, base: str) -> Outcome | None:
    """The failed Outcome when the agent could not run, ran past its timeout or failed."""
    if isinstance(ran, Outcome):
        return ran
    if ran.timed_out:
        return _failure(
            ctx,
            f"the agent ran past its timeout of {ctx.job.agent.timeout or 0:g} s",
            agent_exit_code=ran.exit_code,
            base_commit=base,
        )
    if ran.exit_code != 0:
        tail = "\n".join(ctx.masker.mask(line) for line in list(ran.last_lines)[-10:])
        return _failure(
            ctx,
            f"the agent exited with code {ran.exit_code}; its last lines:\n{tail}",
            agent_exit_code=ran.exit_code,
            base_commit=base,
        )
    return None


@dataclass
class AgentRun:
    exit_code: int
    verified: bool | None
    rounds: int


def _agent_until_verified(ctx: JobContext, base: str) -> AgentRun | Outcome:
    """The agent, then verify; while verify fails and fix rounds are left, the agent again
    (told the failing output), then verify again."""
    ran = _run_agent(ctx)
    failed = _agent_failed(ctx, ran, base)
    if failed is not None:
        return failed
    assert isinstance(ran, Completed)
    verified = _verify(ctx)
    rounds = 0
    while verified is False and rounds < ctx.job.fix_rounds:
        rounds += 1
        ctx.say(f"fix round {rounds} of {ctx.job.fix_rounds}: the agent gets the failing output")
        assert ctx.history is not None
        ctx.history.failures.append((rounds, ctx.transcripts[-1]))
        ran = _run_agent(ctx)
        failed = _agent_failed(ctx, ran, base)
        if failed is not None:
            failed.verified, failed.rounds = False, rounds
            return failed
        assert isinstance(ran, Completed)
        verified = _verify(ctx)
    return AgentRun(ran.exit_code, verified, rounds)


def _rounds(run: AgentRun) -> int | None:
    return run.rounds if run.verified is not None else None


def _verify_note(run: AgentRun) -> str:
    if run.verified is None:
        return ""
    after = f" after {run.rounds} fix round{'s' if run.rounds != 1 else ''}" if run.rounds else ""
    return f"; verify {'passed' if run.verified else 'failed'}{after}"


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
    verify_note = _verify_note(run)
    if commit == base:
        ctx.say("the agent made no changes")
        return Outcome(
            "succeeded",
            summary=f"The agent made no changes (exit code {agent_code}){verify_note}.",
            diff=b"",
            diff_stats={"files_changed": 0, "insertions": 0, "deletions": 0},
            agent_exit_code=agent_code,
            base_commit=base,
            transcripts=ctx.transcripts,
            verified=run.verified,
            rounds=_rounds(run),
            result_commit=base,
            delta=b"" if ctx.job.start_commit else None,
        )
    diff = repo.diff(base, commit)
    limit = ctx.job.max_diff_bytes
    if len(diff) > limit:
        return _failure(
            ctx,
            f"the diff is {len(diff)} bytes, over the server's limit of {limit} bytes",
            agent_exit_code=agent_code,
            base_commit=base,
            verified=run.verified,
            rounds=_rounds(run),
        )
    stats = repo.diff_stats(base, commit)
    delta = repo.diff(start, commit) if ctx.job.start_commit else None
    step_note = "; this step changed nothing" if delta == b"" else ""
    pushed, push_note = _push(ctx, repo, commit, credential_env, pin_flags)
    summary = (
        f"{title}: {diffstat_text(stats)}{step_note}; agent exit code {agent_code}"
        f"{verify_note}{push_note}"
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
        rounds=_rounds(run),
        result_commit=commit,
        delta=delta,
        bundle=_kept_bundle(ctx, repo, base, commit),
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
            done = _run_step(ctx, ["sh", "-c", setup], "setup", None)
            if done.exit_code != 0:
                return _failure(
                    ctx, f"the setup command exited with code {done.exit_code}", base_commit=base
                )
        run = _agent_until_verified(ctx, base)
        if isinstance(run, Outcome):
            return run
        end_leftovers()  # nothing the commands started may watch the push or outlive the job
        if ctx.sandbox is not None:
            ctx.sandbox.leave([ctx.checkout])
        return _upload(ctx, repo, base, run, restore_credentials, pin.git_flags)
    except (GitError, WorkerError) as exc:
        return _failure(ctx, exc.message)
    finally:
        end_leftovers()
        if ctx.egress is not None:
            ctx.egress.close()
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(ctx.checkout, ignore_errors=True)
