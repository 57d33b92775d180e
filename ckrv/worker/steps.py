"""The job's commands, each in its sandbox under its limits: the agent (given the spec and the
thread's history, and a file for what the run cost: worker/cost.py), the verify commands, and
the fix rounds between them."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from ckrv.contracts import launch_env
from ckrv.contracts.agents import PRESETS, PYTHON
from ckrv.contracts.job_description import JobDescription
from ckrv.errors import WorkerError
from ckrv.limits import DiskWatch, explain_end
from ckrv.sandbox import unconfined_command
from ckrv.worker.context import JobContext, Outcome, failure
from ckrv.worker.cost import add_cost, offer_cost_file
from ckrv.worker.history import EarlierStep, History, Transcript
from ckrv.worker.process import Completed, LineSink, run_streaming

_PROMPT_ARG_LIMIT = 100 * 1024  # one argv string may not exceed 128 KiB on Linux


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


def run_step(
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
        return failure(
            ctx,
            f"agent {agent.name!r} needs the command {argv[0]!r}, which is not "
            f"installed on the worker: {hint}",
        )
    ctx.reporter.event(phase="executing")
    ctx.say(f"running agent {agent.name}")
    stdin = spec.encode() if agent.stdin else None
    cost_file = offer_cost_file(ctx)
    try:
        return run_step(ctx, argv, agent.name, agent.timeout, stdin=stdin)
    finally:
        add_cost(ctx, cost_file)


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
        done = run_step(ctx, argv, "verify", None, transcript.sink(ctx.sink, ctx.masker.mask))
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
        return failure(
            ctx,
            f"the agent ran past its timeout of {ctx.job.agent.timeout or 0:g} s",
            agent_exit_code=ran.exit_code,
            base_commit=base,
        )
    if ran.exit_code != 0:
        tail = "\n".join(ctx.masker.mask(line) for line in list(ran.last_lines)[-10:])
        return failure(
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


def agent_until_verified(ctx: JobContext, base: str) -> AgentRun | Outcome:
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


def rounds_used(run: AgentRun) -> int | None:
    return run.rounds if run.verified is not None else None


def verify_note(run: AgentRun) -> str:
    if run.verified is None:
        return ""
    after = f" after {run.rounds} fix round{'s' if run.rounds != 1 else ''}" if run.rounds else ""
    return f"; verify {'passed' if run.verified else 'failed'}{after}"
