"""`ckrv status`, `ckrv jobs`, `ckrv cancel`, and the job card `ckrv run` prints too.

JSON output (`--json`) is the API's Job object unchanged: `status` prints one, `jobs` an array
of them, `cancel` the cancelled job, `status --watch --json` one compact Job per line on every
change."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from ckrv.cli.context import user_api
from ckrv.cli.output import emit_json, paint, table, use_color
from ckrv.contracts.jobmodel import SHORT_ID, STATUSES, TERMINAL, short_id
from ckrv.diffstat import diffstat_text

if TYPE_CHECKING:
    from ckrv.client.api import Api

STATUS_COLORS = {
    "pending": "yellow",
    "running": "cyan",
    "succeeded": "green",
    "failed": "red",
    "timeout": "red",
    "cancelled": "magenta",
}


def status_word(job: dict[str, Any]) -> str:
    word = job["status"] + (f" ({job['phase']})" if job.get("phase") else "")
    return paint(word, STATUS_COLORS.get(job["status"], "white"), bold=True)


def short_repo(url: str, width: int = 40) -> str:
    text = url.split("://", 1)[-1].rpartition("@")[2].removesuffix(".git")
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def next_commands(job: dict[str, Any]) -> list[tuple[str, str]]:
    sid = short_id(job["id"])
    status = job["status"]
    if status in ("pending", "running"):
        return [
            (f"ckrv logs {sid} -f", "follow its log"),
            (f"ckrv status {sid} --watch", "watch it until it ends"),
            (f"ckrv cancel {sid}", "stop it"),
        ]
    if status == "succeeded":
        if job.get("diff_stats") and not job["diff_stats"].get("files_changed"):
            return [(f"ckrv logs {sid}", "it changed nothing; see what the agent said")]
        return [
            (f"ckrv pull {sid}", "apply its diff here"),
            (
                f"ckrv pull {sid} --branch {job.get('feature_branch_name') or 'NAME'}",
                "or as a branch",
            ),
        ]
    return [(f"ckrv logs {sid}", "see what happened")]


def _eta(job: dict[str, Any]) -> str:
    from ckrv.timeutil import format_duration

    if job["status"] in TERMINAL:
        return "-"
    eta = job.get("eta_seconds")
    if eta is None:
        return "unknown"
    return "any moment now" if eta < 1 else f"about {format_duration(eta)}"


def _diff_stats(job: dict[str, Any]) -> str | None:
    stats = job.get("diff_stats")
    if not stats:
        return None
    return diffstat_text(stats)


def card(job: dict[str, Any]) -> str:
    """The job as `ckrv status` shows it: what, where, when, outcome, and what to do next."""
    from ckrv.client.jobs import local_time
    from ckrv.timeutil import format_duration

    base = job["git_base_branch"] + (
        f" @ {job['base_commit'][:12]}" if job.get("base_commit") else ""
    )
    branch = job.get("feature_branch_name") or "-"
    if job.get("pushed_branch"):
        branch += f" (pushed as {job['pushed_branch']})"
    fields: list[tuple[str, str | None]] = [
        ("status", status_word(job)),
        ("spec", job.get("spec_title")),
        ("agent", job.get("agent")),
        ("repository", job["git_repo_url"]),
        ("base", base),
        ("branch", branch),
        ("created", local_time(job.get("created_at"))),
        ("started", local_time(job.get("started_at"))),
        ("completed", local_time(job.get("completed_at"))),
        ("elapsed", format_duration(job.get("duration_seconds"))),
        ("eta", _eta(job)),
        ("changes", _diff_stats(job)),
        ("summary", job.get("result_summary")),
        ("error", _red_lines(job.get("error_message"))),
    ]
    lines = [f"Job {paint(job['id'], 'cyan', bold=True)}"]
    for name, value in fields:
        if value is None:
            continue
        head, *rest = str(value).splitlines() or [""]
        lines.append(f"  {name:<11} {head}")
        lines.extend(f"  {'':<11} {more}" for more in rest)
    lines.append("")
    lines.extend(next_block(next_commands(job)))
    return "\n".join(lines)


def _red_lines(text: str | None) -> str | None:
    """Each line painted on its own, so a redraw's line arithmetic and a pager both cope."""
    return "\n".join(paint(line, "red") for line in text.splitlines()) if text else None


def next_block(commands: list[tuple[str, str]]) -> list[str]:
    """`next: COMMAND   # why` lines, commands aligned."""
    width = max(len(c) for c, _ in commands)
    return [
        f"{'next:' if i == 0 else '':<5} {paint(c.ljust(width), 'green')}   # {why}"
        for i, (c, why) in enumerate(commands)
    ]


class Redrawer:
    """Shows a job again after each change: the card redrawn in place on a terminal; otherwise
    one line per status or phase change, then the final card; or, with JSON, each Job as the
    stream delivered it, one per line."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self.in_place = sys.stdout.isatty() and not as_json
        self._lines = 0
        self._last: object = None

    def show(self, job: dict[str, Any]) -> None:
        final = job["status"] in TERMINAL
        if self.as_json:
            click.echo(json.dumps(job, ensure_ascii=False))
        elif self.in_place:
            text = card(job)
            if self._lines:
                click.echo(f"\x1b[{self._lines}F\x1b[J", nl=False)
            click.echo(text)
            self._lines = screen_rows(text)
        elif final:
            click.echo(card(job))
        elif (job["status"], job.get("phase")) != self._last:
            from datetime import datetime

            self._last = (job["status"], job.get("phase"))
            click.echo(f"{datetime.now().strftime('%H:%M:%S')} {status_word(job)}")


def screen_rows(text: str) -> int:
    """Rows `text` takes on this terminal, long lines wrapping (so a redraw moves up enough)."""
    import shutil

    width = max(shutil.get_terminal_size().columns, 1)
    visible = (click.unstyle(line) for line in text.splitlines())
    return sum(max(1, -(-len(line) // width)) for line in visible)


def with_eta(job: dict[str, Any], expected_total: float | None) -> dict[str, Any]:
    """`job` with an ETA worked out from the total the server first estimated (status events
    carry none)."""
    if job.get("eta_seconds") is not None or expected_total is None or job["status"] in TERMINAL:
        return job
    eta = max(expected_total - float(job.get("duration_seconds") or 0.0), 0.0)
    return {**job, "eta_seconds": round(eta, 1)}


def watch_job(api: Api, job: dict[str, Any], *, as_json: bool) -> dict[str, Any]:
    """Show `job` on every change until it ends; the final job."""
    from ckrv.client.jobs import wait_for_job

    redraw = Redrawer(as_json=as_json)
    eta = job.get("eta_seconds")
    total = None if eta is None else float(eta) + float(job.get("duration_seconds") or 0.0)
    redraw.show(job)
    if job["status"] in TERMINAL:
        return job
    return wait_for_job(
        api, job["id"], on_change=lambda j: redraw.show(j if as_json else with_eta(j, total))
    )


@click.command()
@click.argument("job")
@click.option("--watch", "-w", is_flag=True, help="Redraw on every change until the job ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the Job object as JSON.")
def status(job: str, watch: bool, as_json: bool) -> None:
    """Show a job: status, phase, agent, repository, base commit, branch, times (in your local
    zone), elapsed, ETA, and the summary or error.

    JOB is a full job id or a unique prefix of at least 8 characters. With --watch the exit
    code says how the job ended: 0 succeeded, 7 otherwise.

    \b
    Example:
      ckrv status 3f8a9b2c
      ckrv status 3f8a9b2c --watch
      ckrv status 3f8a9b2c --json | jq -r .status
    """
    from ckrv.client.jobs import find_job, require_success

    with user_api() as api:
        found = find_job(api, job)
        if not watch:
            if as_json:
                emit_json(found)
            else:
                click.echo(card(found))
            return
        final = watch_job(api, found, as_json=as_json)
    require_success(final)


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
def jobs(status_filter: str | None, limit: int, as_json: bool) -> None:
    """List your jobs, newest first.

    \b
    Example:
      ckrv jobs
      ckrv jobs --status failed --limit 200
      ckrv jobs --json | jq -r '.[] | select(.status == "succeeded") | .id'
    """
    from ckrv.client.jobs import age, list_jobs
    from ckrv.timeutil import format_duration

    with user_api() as api:
        found = list_jobs(api, status=status_filter, limit=limit)
    if as_json:
        emit_json(found)
        return
    if not found:
        which = f"{status_filter} " if status_filter else ""
        click.echo(f"no {which}jobs yet; start one with: ckrv run --cloud --spec FILE")
        return
    rows = [
        [
            short_id(j["id"]),
            j["status"],
            j.get("phase") or "-",
            j.get("agent") or "-",
            short_repo(j["git_repo_url"]),
            age(j),
            format_duration(j.get("duration_seconds")),
        ]
        for j in found
    ]
    text = table(rows, ["id", "status", "phase", "agent", "repository", "age", "duration"])
    if use_color():
        head, *body = text.splitlines()
        text = "\n".join([paint(head, "white", bold=True), *(_color_row(r) for r in body)])
    click.echo(text)


def _color_row(row: str) -> str:
    short, rest = row[:SHORT_ID], row[SHORT_ID:]
    status = rest.split()[0]
    return paint(short, "cyan") + rest.replace(status, paint(status, STATUS_COLORS[status]), 1)


@click.command()
@click.argument("job")
@click.option("--json", "as_json", is_flag=True, help="Print the cancelled Job as JSON.")
def cancel(job: str, as_json: bool) -> None:
    """Cancel a pending or running job. Its worker is stopped; it keeps no partial diff.

    \b
    Example:
      ckrv cancel 3f8a9b2c
    """
    from ckrv.client.jobs import cancel_job, resolve_job_id

    with user_api() as api:
        cancelled = cancel_job(api, resolve_job_id(api, job))
    if as_json:
        emit_json(cancelled)
    else:
        click.echo(f"job {short_id(cancelled['id'])} is {status_word(cancelled)}")
