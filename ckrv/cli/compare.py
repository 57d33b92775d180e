"""Best-of-N groups on the command line: `ckrv run --cloud --attempts N / --agents A,B` queues
one (run_group), `ckrv compare GROUP` shows its attempts side by side, and with `--pick auto`
ranks them as the server does (verified first, then the smaller change, then the faster) and
names the pick that `ckrv pull GROUP` applies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from ckrv.cli.context import api_url, streams, user_api
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.jobcard import STATUS_COLORS, next_block
from ckrv.cli.output import table
from ckrv.contracts.jobmodel import short_id

if TYPE_CHECKING:
    from ckrv.client.jobs import JobRequest

_VERIFIED = {True: "passed", False: "failed", None: "-"}


@dataclass(frozen=True)
class CompareOptions:
    api_url: str
    group: str
    pick: str | None = None  # "auto": rank, and name the pick
    wait: bool = False
    as_json: bool = False


def run_compare(opts: CompareOptions, io: IOStreams) -> None:
    from ckrv.client.groups import get_group, wait_for_group

    with user_api(opts.api_url) as api:
        group = get_group(api, opts.group)
        if opts.wait:
            group = wait_for_group(api, group)
    if opts.as_json:
        io.json(group)
        return
    io.out(comparison(group, io, ranked=opts.pick == "auto"))


@click.command()
@click.argument("group")
@click.option(
    "--pick",
    type=click.Choice(["auto"]),
    help="Rank the attempts (verified first, then the smaller change, then the faster) and "
    "name the pick `ckrv pull GROUP` applies.",
)
@click.option("--wait", is_flag=True, help="Wait for every attempt to end first.")
@click.option("--json", "as_json", is_flag=True, help="Print the Group object as JSON.")
def compare(group: str, pick: str | None, wait: bool, as_json: bool) -> None:
    """Compare the attempts of a group: agent, status, verify, files and lines changed,
    duration and cost (when known), one row per attempt.

    GROUP is the id `ckrv run --cloud --attempts N` or `--agents A,B` printed (g-...). Each
    attempt is a job of its own: `ckrv logs`, `ckrv pull`, `ckrv continue` take its job id.

    \b
    Example:
      ckrv compare g-7kq3m2xa
      ckrv compare g-7kq3m2xa --pick auto --wait
      ckrv pull g-7kq3m2xa              # the pick
      ckrv pull g-7kq3m2xa --attempt 2  # or another attempt
    """
    run_compare(CompareOptions(api_url(), group, pick, wait, as_json), streams())


def _lines(attempt: dict[str, Any]) -> str:
    if attempt["lines_changed"] is None:
        return "-"
    return f"{attempt['lines_changed']} (+{attempt['insertions']} -{attempt['deletions']})"


def _cost(attempt: dict[str, Any]) -> str:
    cost = attempt.get("cost_usd")
    return f"${cost:.2f}" if isinstance(cost, int | float) else "-"


def _row(attempt: dict[str, Any]) -> list[str]:
    from ckrv.timeutil import format_duration

    files = attempt["files_changed"]
    return [
        str(attempt["attempt"]),
        short_id(attempt["job_id"]),
        attempt["agent"],
        attempt["status"],
        _VERIFIED[attempt["verified"]],
        "-" if files is None else str(files),
        _lines(attempt),
        format_duration(attempt["duration_seconds"]),
        _cost(attempt),
    ]


_HEADERS = ["#", "job", "agent", "status", "verify", "files", "lines", "duration", "cost"]


def comparison(group: dict[str, Any], io: IOStreams, *, ranked: bool) -> str:
    """The attempts as a table (in rank order when `ranked`), then the pick and what next."""
    by_number = {a["attempt"]: a for a in group["attempts"]}
    order = group["ranking"] if ranked else sorted(by_number)
    rows = [_row(by_number[n]) for n in order]
    headers = _HEADERS
    if ranked:
        rows = [[str(place), *row] for place, row in enumerate(rows, 1)]
        headers = ["rank", *_HEADERS]
    text = table(rows, headers)
    if io.color():
        head, *body = text.splitlines()
        body = [
            _paint_status(line, by_number[n]["status"], io)
            for line, n in zip(body, order, strict=True)
        ]
        text = "\n".join([io.paint(head, "white", bold=True), *body])
    title = group.get("spec_title") or "group"
    lines = [f"group {io.paint(group['id'], 'cyan', bold=True)}: {title}", text, ""]
    return "\n".join(lines + _verdict(group, io, ranked=ranked))


def _paint_status(line: str, status: str, io: IOStreams) -> str:
    return line.replace(f" {status} ", f" {io.paint(status, STATUS_COLORS[status])} ", 1)


def _verdict(group: dict[str, Any], io: IOStreams, *, ranked: bool) -> list[str]:
    gid, pick = group["id"], group["pick"]
    if not group["ended"]:
        going = sum(a["status"] in ("pending", "running") for a in group["attempts"])
        wait = [(f"ckrv compare {gid} --pick auto --wait", "wait, then rank them")]
        return [
            f"{going} attempt(s) still going; the pick is made once all end",
            *next_block(wait, io),
        ]
    if pick is None:
        logs = [
            (f"ckrv logs {short_id(a['job_id'])}", f"what attempt {a['attempt']} did")
            for a in group["attempts"]
        ]
        return [
            "no attempt succeeded without failing its verify: nothing to pick",
            *next_block(logs, io),
        ]
    chosen = next(a for a in group["attempts"] if a["attempt"] == pick)
    said = f"pick: attempt {pick} (job {short_id(chosen['job_id'])}, {chosen['agent']})"
    commands = [(f"ckrv pull {gid}", f"apply attempt {pick}'s diff here")]
    if not ranked:
        commands.append((f"ckrv compare {gid} --pick auto", "see why, in rank order"))
    commands.append((f"ckrv pull {gid} --attempt K", "or another attempt's"))
    return [io.paint(said, "green", bold=True), *next_block(commands, io)]


FOLLOW_ONE = (
    "--follow shows one job's log; wait for a group with --wait, and follow one attempt with "
    "`ckrv logs JOB -f`"
)


def agent_list(agents: str | None, agent: str | None) -> tuple[str, ...]:
    """The agents of `--agents A,B,...` (none when not given)."""
    if agents is None:
        return ()
    if agent is not None:
        raise click.UsageError("use --agent or --agents, not both")
    names = tuple(name.strip() for name in agents.split(",") if name.strip())
    if not names:
        raise click.UsageError("--agents takes agent names separated by commas")
    return names


def run_group(
    url: str,
    request: JobRequest,
    attempts: int | None,
    agents: tuple[str, ...],
    io: IOStreams,
    wait: bool,
    as_json: bool,
) -> None:
    """`ckrv run --cloud` with --attempts or --agents: queue the group; with --wait, wait for
    every attempt and show them ranked (exit 0 when there is a pick, else 7)."""
    from ckrv.client.groups import create_group, wait_for_group
    from ckrv.errors import JobUnsuccessful

    with user_api(url) as api:
        group = create_group(api, request, attempts, agents)
        if not as_json:
            io.out(queued_group_card(group, io, waiting=wait))
        if not wait:
            if as_json:
                io.json(group)
            return
        group = wait_for_group(api, group)
    if as_json:
        io.json(group)
    else:
        io.out("")
        io.out(comparison(group, io, ranked=True))
    if group["pick"] is None:
        raise JobUnsuccessful(
            f"no attempt of group {group['id']} succeeded without failing its verify",
            hint=f"see each attempt's log: `ckrv logs JOB` (`ckrv compare {group['id']}` lists them)",
        )


def _count(attempts: int) -> str:
    return f"{attempts} attempt" + ("" if attempts == 1 else "s")


def queued_group_card(group: dict[str, Any], io: IOStreams, *, waiting: bool) -> str:
    gid = group["id"]
    attempts = group["attempts"]
    lines = [
        f"Queued group {io.paint(gid, 'cyan', bold=True)} ({_count(len(attempts))}): "
        f"{group.get('spec_title') or 'job'}",
        f"  repository  {group['git_repo_url']} @ {group['git_base_branch']}",
    ]
    lines += [
        f"  attempt {a['attempt']:<3} job {short_id(a['job_id'])}  {a['agent']}" for a in attempts
    ]
    if waiting:
        lines.append(
            f"waiting for every attempt to end (Ctrl-C stops waiting; they keep running: "
            f"`ckrv cancel {gid}` stops them)"
        )
        return "\n".join(lines)
    lines.append("")
    lines += next_block(
        [
            (f"ckrv compare {gid} --pick auto --wait", "wait for them, then rank them"),
            (f"ckrv pull {gid}", "apply the pick's diff once all have ended"),
            (f"ckrv cancel {gid}", "stop every attempt"),
        ],
        io,
    )
    return "\n".join(lines)
