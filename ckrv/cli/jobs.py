"""`ckrv status`, `ckrv jobs`, `ckrv cancel`: each an options object, a run function, and the
click command that only parses arguments into the one and calls the other. The job card itself
is in jobcard.py.

JSON output (`--json`) is the API's Job object unchanged: `status` prints one, `jobs` an array
of them, `cancel` the cancelled job, `status --watch --json` one compact Job per line on every
change."""

from __future__ import annotations

from dataclasses import dataclass

import click

from ckrv.cli.context import api_url, streams, user_api
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.jobcard import STATUS_COLORS, card, status_word, watch_job
from ckrv.cli.output import table, visible
from ckrv.contracts.jobmodel import SHORT_ID, STATUSES, short_id


@dataclass(frozen=True)
class StatusOptions:
    api_url: str
    job: str
    watch: bool = False
    as_json: bool = False
    transcript: int | None = None


def run_status(opts: StatusOptions, io: IOStreams) -> None:
    from ckrv.client.jobs import fetch_transcript, find_job, require_success

    with user_api(opts.api_url) as api:
        found = find_job(api, opts.job)
        if opts.transcript is not None:
            io.out_bytes(fetch_transcript(api, found, opts.transcript))
            return
        if not opts.watch:
            if opts.as_json:
                io.json(found)
            else:
                io.out(card(found, io))
            return
        final = watch_job(api, found, io, as_json=opts.as_json)
    require_success(final)


@click.command()
@click.argument("job")
@click.option("--watch", "-w", is_flag=True, help="Redraw on every change until the job ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the Job object as JSON.")
@click.option(
    "--transcript",
    type=click.IntRange(min=0),
    metavar="N",
    help="Print the transcript of the job's verify run N (0 first) instead.",
)
def status(job: str, watch: bool, as_json: bool, transcript: int | None) -> None:
    """Show a job: status, phase, agent, repository, base commit, branch, times (in your local
    zone), elapsed, ETA, and the summary or error.

    JOB is a full job id or a unique prefix of at least 8 characters. With --watch the exit
    code says how the job ended: 0 succeeded, 7 otherwise.

    \b
    Example:
      ckrv status 3f8a9b2c
      ckrv status 3f8a9b2c --watch
      ckrv status 3f8a9b2c --json | jq -r .status
      ckrv status 3f8a9b2c --transcript 0
    """
    run_status(StatusOptions(api_url(), job, watch, as_json, transcript), streams())


@dataclass(frozen=True)
class JobsOptions:
    api_url: str
    status: str | None = None
    limit: int = 20
    as_json: bool = False
    thread: str | None = None  # a job of the thread (its first job's id is looked up)


def run_jobs(opts: JobsOptions, io: IOStreams) -> None:
    from ckrv.client.jobs import age, find_job, list_jobs
    from ckrv.timeutil import format_duration

    with user_api(opts.api_url) as api:
        thread = find_job(api, opts.thread)["thread"] if opts.thread else None
        found = list_jobs(api, status=opts.status, limit=opts.limit, thread=thread)
    if opts.as_json:
        io.json(found)
        return
    if not found:
        which = f"{opts.status} " if opts.status else ""
        io.out(f"no {which}jobs yet; start one with: ckrv run --cloud --spec FILE")
        return
    rows = [
        [
            short_id(j["id"]),
            j["status"],
            j.get("phase") or "-",
            j.get("agent") or "-",
            short_title(j.get("spec_title")),
            visible(short_repo(j["git_repo_url"]), lines=False),
            age(j),
            format_duration(j.get("duration_seconds")),
        ]
        for j in found
    ]
    text = table(rows, ["id", "status", "phase", "agent", "title", "repository", "age", "duration"])
    if io.color():
        head, *body = text.splitlines()
        text = "\n".join([io.paint(head, "white", bold=True), *(_color_row(r, io) for r in body)])
    io.out(text)


def short_title(title: str | None, width: int = 32) -> str:
    """The spec's title on one line, cut at `width` (at a word when one ends near it)."""
    text = " ".join(visible(title or "", lines=False).split()) or "-"
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    word_end = cut.rfind(" ")
    return (cut[:word_end] if word_end >= width // 2 else cut).rstrip() + "…"


def short_repo(url: str, width: int = 40) -> str:
    text = url.split("://", 1)[-1].rpartition("@")[2].removesuffix(".git")
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _color_row(row: str, io: IOStreams) -> str:
    short, rest = row[:SHORT_ID], row[SHORT_ID:]
    status = rest.split()[0]
    return io.paint(short, "cyan") + rest.replace(
        status, io.paint(status, STATUS_COLORS[status]), 1
    )


@click.command()
@click.option(
    "--status",
    "status_filter",
    type=click.Choice(STATUSES),
    help="Only jobs with this status.",
)
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many jobs to show (more than 100 are fetched page by page).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of Job objects.")
@click.option(
    "--thread",
    metavar="JOB",
    help="Only the jobs of JOB's thread: its first job and the follow-ups (ckrv continue).",
)
def jobs(status_filter: str | None, limit: int, as_json: bool, thread: str | None) -> None:
    """List your jobs, newest first.

    \b
    Example:
      ckrv jobs
      ckrv jobs --status failed --limit 200
      ckrv jobs --thread 3f8a9b2c
      ckrv jobs --json | jq -r '.[] | select(.status == "succeeded") | .id'
    """
    run_jobs(JobsOptions(api_url(), status_filter, limit, as_json, thread), streams())


@dataclass(frozen=True)
class CancelOptions:
    api_url: str
    job: str
    as_json: bool = False


def run_cancel(opts: CancelOptions, io: IOStreams) -> None:
    from ckrv.client.groups import is_group_id
    from ckrv.client.jobs import cancel_job, resolve_job_id

    if is_group_id(opts.job):
        _cancel_group(opts, io)
        return
    with user_api(opts.api_url) as api:
        cancelled = cancel_job(api, resolve_job_id(api, opts.job))
    if opts.as_json:
        io.json(cancelled)
    else:
        io.out(f"job {short_id(cancelled['id'])} is {status_word(cancelled, io)}")


def _cancel_group(opts: CancelOptions, io: IOStreams) -> None:
    from ckrv.client.groups import cancel_group

    with user_api(opts.api_url) as api:
        group = cancel_group(api, opts.job)
    if opts.as_json:
        io.json(group)
        return
    for attempt in group["attempts"]:
        io.out(
            f"attempt {attempt['attempt']}: job {short_id(attempt['job_id'])} is "
            f"{status_word(attempt, io)}"
        )


@click.command()
@click.argument("job")
@click.option("--json", "as_json", is_flag=True, help="Print the cancelled Job as JSON.")
def cancel(job: str, as_json: bool) -> None:
    """Cancel a pending or running job. Its worker is stopped; it keeps no partial diff.

    JOB may be a group's id (g-...): every attempt still going is cancelled.

    \b
    Example:
      ckrv cancel 3f8a9b2c
      ckrv cancel g-7kq3m2xa
    """
    run_cancel(CancelOptions(api_url(), job, as_json), streams())
