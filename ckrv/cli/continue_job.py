"""`ckrv continue JOB -m TEXT | --spec FILE`: a follow-up that starts from JOB's result."""

from __future__ import annotations

from dataclasses import dataclass

import click

from ckrv.cli.context import api_url, streams, user_api
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.submitted import report_queued


@dataclass(frozen=True)
class ContinueOptions:
    api_url: str
    job: str
    message: str | None = None
    spec_path: str | None = None
    agent: str | None = None
    credential: str | None = None
    push: bool | None = None  # None: JOB's
    verify: tuple[str, ...] = ()
    fix_rounds: int | None = None
    wait: bool = False
    follow: bool = False
    as_json: bool = False
    setup: str | None = None
    timeout: str | None = None
    network: str | None = None
    allow_hosts: tuple[str, ...] = ()
    limits: tuple[tuple[str, str | int], ...] = ()  # memory, cpu_time, processes, disk
    no_verify: bool = False  # JOB's verify commands dropped: the server's default
    no_setup: bool = False


def run_continue(opts: ContinueOptions, io: IOStreams) -> None:
    from ckrv.cli.run import read_spec
    from ckrv.client.jobs import FollowUpRequest, continue_job, resolve_job_id
    from ckrv.errors import UsageError
    from ckrv.timeutil import parse_duration

    if (opts.message is None) == (opts.spec_path is None):
        raise UsageError("give the next instruction with -m TEXT or --spec FILE (one of them)")
    spec = opts.message if opts.message is not None else read_spec(str(opts.spec_path), io)
    if not spec.strip():
        raise UsageError("the instruction is empty")
    if opts.no_verify and opts.verify:
        raise UsageError("--no-verify drops the verify commands; give it or --verify, not both")
    if opts.no_setup and opts.setup is not None:
        raise UsageError("--no-setup drops the setup command; give it or --setup, not both")
    request = FollowUpRequest(
        spec,
        agent=opts.agent,
        credential=opts.credential,
        push=opts.push,
        verify=opts.verify,
        fix_rounds=opts.fix_rounds,
        timeout_seconds=parse_duration(opts.timeout) if opts.timeout else None,
        setup=opts.setup,
        network="" if opts.network == "default" else opts.network,
        allowed_hosts=opts.allow_hosts,
        limits=opts.limits,
        no_verify=opts.no_verify,
        no_setup=opts.no_setup,
    )
    with user_api(opts.api_url) as api:
        job = continue_job(api, resolve_job_id(api, opts.job), request)
        for notice in job.get("notices") or ():  # what it inherited was lowered, and why
            io.warning(notice)
        report_queued(api, job, io, wait=opts.wait, follow=opts.follow, as_json=opts.as_json)


@click.command(name="continue")
@click.argument("job")
@click.option("--message", "-m", metavar="TEXT", help="The next instruction.")
@click.option("--spec", "spec_path", metavar="FILE", help="The next instruction from a file.")
@click.option("--agent", metavar="NAME", help="Another agent [default: JOB's].")
@click.option("--credential", metavar="NAME", help="Another git credential [default: JOB's].")
@click.option(
    "--push/--no-push",
    default=None,
    help="Push the thread's feature branch (a fast-forward) on success [default: JOB's].",
)
@click.option("--setup", metavar="CMD", help="Setup command [default: JOB's].")
@click.option("--no-setup", is_flag=True, help="Run no setup command, not JOB's.")
@click.option("--timeout", metavar="DURATION", help="Timeout, e.g. 30m [default: JOB's].")
@click.option(
    "--network",
    type=click.Choice(["open", "allowlist", "none", "default"]),
    help="What the job's commands may reach; default: the server's policy, not JOB's "
    "option [default: JOB's].",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="HOST",
    help="A host the job may reach under allowlist; repeatable [default: JOB's].",
)
@click.option("--memory", metavar="SIZE", help="Memory per process, e.g. 2G [default: JOB's].")
@click.option("--cpu-time", metavar="DURATION", help="CPU time per process [default: JOB's].")
@click.option(
    "--processes", type=click.IntRange(min=1), metavar="N", help="Processes [default: JOB's]."
)
@click.option("--disk", metavar="SIZE", help="Disk of the workspace [default: JOB's].")
@click.option("--verify", multiple=True, metavar="CMD", help="Verify commands [default: JOB's].")
@click.option(
    "--no-verify",
    is_flag=True,
    help="Drop JOB's verify commands (the repository's or agent's still apply, if any).",
)
@click.option(
    "--fix-rounds", type=click.IntRange(min=0), metavar="N", help="Fix rounds [default: JOB's]."
)
@click.option("--wait", is_flag=True, help="Wait for it to end: exit 0 if it succeeded, else 7.")
@click.option("--follow", "-f", is_flag=True, help="Print its log live while waiting.")
@click.option("--json", "as_json", is_flag=True, help="Print the Job object as JSON.")
def continue_(
    job: str,
    message: str | None,
    spec_path: str | None,
    agent: str | None,
    credential: str | None,
    push: bool | None,
    setup: str | None,
    no_setup: bool,
    timeout: str | None,
    network: str | None,
    allow_hosts: tuple[str, ...],
    memory: str | None,
    cpu_time: str | None,
    processes: int | None,
    disk: str | None,
    verify: tuple[str, ...],
    no_verify: bool,
    fix_rounds: int | None,
    wait: bool,
    follow: bool,
    as_json: bool,
) -> None:
    """Follow up on a succeeded job: a new job that starts from its result.

    It starts from JOB's result commit whether or not JOB pushed, and works on the same
    feature branch (--push fast-forwards it). It inherits every option that shaped JOB's run:
    repository and base branch (those cannot change), credential, agent, setup, push,
    timeout, network and allowed hosts, limits (memory, CPU time, processes, disk), verify
    commands and fix rounds. An option given here overrides JOB's, checked as `ckrv run
    --cloud` checks it; a limit given replaces JOB's for that limit only. An inherited value
    the server now allows less of (a lower maximum timeout, fix rounds or limit) is lowered
    to it, with a warning. --no-verify, --no-setup and --network default drop JOB's option
    for the server's default. The agent is told
    the earlier specs and summaries ($CKRV_HISTORY_FILE; a preset gets them in its prompt).
    `ckrv pull` of the follow-up applies the whole thread's change; `--delta` only this step.

    \b
    Example:
      ckrv continue 3f8a9b2c -m "also keep the public API"
      ckrv continue 3f8a9b2c --spec specs/next.md --push --follow
      ckrv continue 3f8a9b2c -m "now the docs" --network none --memory 1G
      ckrv jobs --thread 3f8a9b2c
    """
    limits = tuple(
        (key, value)
        for key, value in (
            ("memory", memory),
            ("cpu_time", cpu_time),
            ("processes", processes),
            ("disk", disk),
        )
        if value is not None
    )
    run_continue(
        ContinueOptions(
            api_url(),
            job,
            message,
            spec_path,
            agent,
            credential,
            push,
            verify,
            fix_rounds,
            wait,
            follow,
            as_json,
            setup,
            timeout,
            network,
            allow_hosts,
            limits,
            no_verify,
            no_setup,
        ),
        streams(),
    )
