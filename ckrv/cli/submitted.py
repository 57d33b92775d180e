"""What `ckrv run --cloud` and `ckrv continue` print once the server queued their job.

Both commands queue one job and then either print its card or wait for it (optionally
following its log); one place keeps the two commands' output the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ckrv.cli.iostreams import IOStreams
from ckrv.cli.jobcard import card, next_block, next_commands, status_word
from ckrv.cli.output import visible
from ckrv.contracts.jobmodel import short_id

if TYPE_CHECKING:
    from ckrv.client.api import Api


def report_queued(
    api: Api, job: dict[str, Any], io: IOStreams, *, wait: bool, follow: bool, as_json: bool
) -> None:
    """Print the queued job; with wait/follow, wait for it to end and exit by its outcome."""
    from ckrv.client.jobs import require_success, wait_for_job

    if not (wait or follow):
        if as_json:
            io.json(job)
        else:
            io.out(queued_card(job, io))
        return
    if not as_json:
        io.out(queued_card(job, io, waiting=True))
    on_log = None
    if follow:  # the log as `ckrv logs -f` prints it; on stderr when stdout has JSON
        from ckrv.cli.logs import LinePrinter

        stream = io.stderr if as_json else io.stdout
        on_log = LinePrinter(io, as_json=False, flush=True, stream=stream).line
    final = wait_for_job(api, job["id"], on_log=on_log)
    if as_json:
        io.json(final)
    else:
        io.out("")
        io.out(card(final, io))
    require_success(final)


def queued_card(job: dict[str, Any], io: IOStreams, *, waiting: bool = False) -> str:
    sid = short_id(job["id"])
    lines = [
        f"Queued job {io.paint(sid, 'cyan', bold=True)} ({status_word(job, io)}): "
        f"{visible(job.get('spec_title') or 'job')}",
        f"  id          {job['id']}",
        f"  repository  {job['git_repo_url']} @ {job['git_base_branch']}",
        f"  agent       {job.get('agent')}",
        f"  branch      {job.get('feature_branch_name') or '-'}",
    ]
    if waiting:
        lines.append(
            f"waiting for it to end (Ctrl-C stops waiting; the job keeps running: "
            f"`ckrv cancel {sid}` stops it)"
        )
        return "\n".join(lines)
    lines.append("")
    lines += next_block(
        [*next_commands(job), (f"ckrv pull {sid}", "apply its diff once it succeeds")], io
    )
    return "\n".join(lines)
