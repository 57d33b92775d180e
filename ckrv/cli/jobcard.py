"""A job as the CLI shows it: the card (`ckrv status`), the status word, the `next:` commands,
and the watcher that redraws them until a job ends."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from ckrv.cli.iostreams import IOStreams
from ckrv.cli.output import visible
from ckrv.contracts.jobmodel import TERMINAL, short_id
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


def status_word(job: dict[str, Any], io: IOStreams) -> str:
    word = job["status"] + (f" ({job['phase']})" if job.get("phase") else "")
    return io.paint(word, STATUS_COLORS.get(job["status"], "white"), bold=True)


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
            (f'ckrv continue {sid} -m "..."', "follow up on its result"),
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


def card(job: dict[str, Any], io: IOStreams) -> str:
    """The job as `ckrv status` shows it: what, where, when, outcome, and what to do next.
    Text the job's agent or author could have written has its control characters shown."""
    from ckrv.client.jobs import local_time
    from ckrv.timeutil import format_duration

    base = job["git_base_branch"] + (
        f" @ {job['base_commit'][:12]}" if job.get("base_commit") else ""
    )
    branch = job.get("feature_branch_name") or "-"
    if job.get("pushed_branch"):
        branch += f" (pushed as {job['pushed_branch']})"
    fields: list[tuple[str, str | None]] = [
        ("status", status_word(job, io)),
        ("spec", _shown(job.get("spec_title"))),
        ("agent", _shown(job.get("agent"))),
        ("repository", visible(job["git_repo_url"])),
        ("base", visible(base)),
        ("branch", visible(branch)),
        ("created", local_time(job.get("created_at"))),
        ("started", local_time(job.get("started_at"))),
        ("completed", local_time(job.get("completed_at"))),
        ("elapsed", format_duration(job.get("duration_seconds"))),
        ("eta", _eta(job)),
        ("changes", _diff_stats(job)),
        ("verify", verify_word(job, io)),
        ("cost", cost_text(job)),
        ("thread", _thread(job)),
        ("group", _group(job)),
        ("summary", _shown(job.get("result_summary"))),
        ("error", _red_lines(_shown(job.get("error_message")), io)),
    ]
    lines = [f"Job {io.paint(job['id'], 'cyan', bold=True)}"]
    for name, value in fields:
        if value is None:
            continue
        head, *rest = str(value).splitlines() or [""]
        lines.append(f"  {name:<11} {head}")
        lines.extend(f"  {'':<11} {more}" for more in rest)
    lines.append("")
    lines.extend(next_block(next_commands(job), io))
    return "\n".join(lines)


def cost_text(job: dict[str, Any]) -> str | None:
    """What the agent's runs reported they cost; None when unknown."""
    cost = job.get("cost_usd")
    if not isinstance(cost, int | float) or isinstance(cost, bool):
        return None
    return f"${cost:.2f} (as the agent reported it)"


def _thread(job: dict[str, Any]) -> str | None:
    """Where a follow-up sits: the job it continues and its thread's first job."""
    if not job.get("parent"):
        return None
    return (
        f"continues {short_id(job['parent'])} (thread {short_id(job['thread'])}; "
        f"`ckrv jobs --thread {short_id(job['thread'])}`)"
    )


def _group(job: dict[str, Any]) -> str | None:
    """Which best-of-N group the job is an attempt of, and how to see them side by side."""
    if not job.get("group"):
        return None
    return f"attempt {job.get('attempt')} of {job['group']} (`ckrv compare {job['group']}`)"


def verify_word(job: dict[str, Any], io: IOStreams) -> str | None:
    """verified / unverified / not verified (no verify ran), with the rounds used and where
    each transcript is; None while the job has not ended."""
    if job["status"] not in TERMINAL:
        return None
    verified = job.get("verified")
    if verified is None:
        return "not verified (no verify command ran)"
    rounds = job.get("rounds") or 0
    after = f" after {rounds} fix round{'s' if rounds != 1 else ''}" if rounds else ""
    word = io.paint("verified", "green") if verified else io.paint("unverified", "red")
    lines = [f"{word}{after} (verify {'passed' if verified else 'failed'})"]
    sid = short_id(job["id"])
    lines += [f"transcript: {path}" for path in job.get("verify_transcripts") or ()]
    if job.get("verify_transcripts"):
        lines.append(f"(read one with `ckrv status {sid} --transcript N`)")
    return "\n".join(lines)


def _shown(text: str | None) -> str | None:
    return visible(text) if text else text


def _red_lines(text: str | None, io: IOStreams) -> str | None:
    """Each line painted on its own, so a redraw's line arithmetic and a pager both cope."""
    return "\n".join(io.paint(line, "red") for line in text.splitlines()) if text else None


def next_block(commands: list[tuple[str, str]], io: IOStreams) -> list[str]:
    """`next: COMMAND   # why` lines, commands aligned."""
    width = max(len(c) for c, _ in commands)
    return [
        f"{'next:' if i == 0 else '':<5} {io.paint(c.ljust(width), 'green')}   # {why}"
        for i, (c, why) in enumerate(commands)
    ]


class Redrawer:
    """Shows a job again after each change: the card redrawn in place on a terminal; otherwise
    one line per status or phase change, then the final card; or, with JSON, each Job as the
    stream delivered it, one per line."""

    def __init__(self, io: IOStreams, *, as_json: bool) -> None:
        self.io = io
        self.as_json = as_json
        self.in_place = io.stdout_is_tty and not as_json
        self._lines = 0
        self._last: object = None

    def show(self, job: dict[str, Any]) -> None:
        final = job["status"] in TERMINAL
        if self.as_json:
            self.io.out(json.dumps(job, ensure_ascii=False))
        elif self.in_place:
            text = card(job, self.io)
            if self._lines:
                self.io.out(f"\x1b[{self._lines}F\x1b[J", nl=False)
            self.io.out(text)
            self._lines = screen_rows(text)
        elif final:
            self.io.out(card(job, self.io))
        elif (job["status"], job.get("phase")) != self._last:
            from datetime import datetime

            self._last = (job["status"], job.get("phase"))
            self.io.out(f"{datetime.now().strftime('%H:%M:%S')} {status_word(job, self.io)}")


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


def watch_job(api: Api, job: dict[str, Any], io: IOStreams, *, as_json: bool) -> dict[str, Any]:
    """Show `job` on every change until it ends; the final job."""
    from ckrv.client.jobs import wait_for_job

    redraw = Redrawer(io, as_json=as_json)
    eta = job.get("eta_seconds")
    total = None if eta is None else float(eta) + float(job.get("duration_seconds") or 0.0)
    redraw.show(job)
    if job["status"] in TERMINAL:
        return job
    return wait_for_job(
        api, job["id"], on_change=lambda j: redraw.show(j if as_json else with_eta(j, total))
    )
