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
    push: bool = False
    verify: tuple[str, ...] = ()
    fix_rounds: int | None = None
    wait: bool = False
    follow: bool = False
    as_json: bool = False


def run_continue(opts: ContinueOptions, io: IOStreams) -> None:
    from ckrv.cli.run import read_spec
    from ckrv.client.jobs import FollowUpRequest, continue_job, resolve_job_id
    from ckrv.errors import UsageError

    if (opts.message is None) == (opts.spec_path is None):
        raise UsageError("give the next instruction with -m TEXT or --spec FILE (one of them)")
    spec = opts.message if opts.message is not None else read_spec(str(opts.spec_path), io)
    if not spec.strip():
        raise UsageError("the instruction is empty")
    request = FollowUpRequest(
        spec, opts.agent, opts.credential, opts.push, opts.verify, opts.fix_rounds
    )
    with user_api(opts.api_url) as api:
        job = continue_job(api, resolve_job_id(api, opts.job), request)
        report_queued(api, job, io, wait=opts.wait, follow=opts.follow, as_json=opts.as_json)


@click.command(name="continue")
@click.argument("job")
@click.option("--message", "-m", metavar="TEXT", help="The next instruction.")
@click.option("--spec", "spec_path", metavar="FILE", help="The next instruction from a file.")
@click.option("--agent", metavar="NAME", help="Another agent [default: JOB's].")
@click.option("--credential", metavar="NAME", help="Another git credential [default: JOB's].")
@click.option(
    "--push", is_flag=True, help="Push the thread's feature branch (a fast-forward) on success."
)
@click.option("--verify", multiple=True, metavar="CMD", help="Verify commands [default: JOB's].")
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
    push: bool,
    verify: tuple[str, ...],
    fix_rounds: int | None,
    wait: bool,
    follow: bool,
    as_json: bool,
) -> None:
    """Follow up on a succeeded job: a new job that starts from its result.

    It runs on JOB's repository, base branch, credential and agent (unless given), starts
    from JOB's result commit whether or not JOB pushed, and works on the same feature branch
    (--push fast-forwards it). The agent is told the earlier specs and summaries
    ($CKRV_HISTORY_FILE; a preset gets them in its prompt). `ckrv pull` of the follow-up
    applies the whole thread's change; `--delta` only this step.

    \b
    Example:
      ckrv continue 3f8a9b2c -m "also keep the public API"
      ckrv continue 3f8a9b2c --spec specs/next.md --push --follow
      ckrv jobs --thread 3f8a9b2c
    """
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
        ),
        streams(),
    )
