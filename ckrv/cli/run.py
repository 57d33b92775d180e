"""`ckrv run --spec FILE`: queue a job on the server (`--cloud`), or run it on this machine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ckrv.cli.compare import FOLLOW_ONE, agent_list, run_group
from ckrv.cli.context import api_url, streams, user_api
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.jobcard import cost_text, next_block, status_word, verify_word
from ckrv.cli.output import visible
from ckrv.cli.submitted import report_queued
from ckrv.contracts.jobmodel import short_id

if TYPE_CHECKING:
    from ckrv.client.jobs import JobRequest
    from ckrv.client.localrun import LocalResult


@dataclass(frozen=True)
class RunOptions:
    api_url: str
    spec_path: str
    cloud: bool = False
    repo: str | None = None
    base_branch: str | None = None
    credential: str | None = None
    agent: str | None = None
    setup: str | None = None
    timeout: str | None = None
    push: bool = False
    wait: bool = False
    follow: bool = False
    as_json: bool = False
    network: str | None = None
    allow_hosts: tuple[str, ...] = ()
    memory: str | None = None
    cpu_time: str | None = None
    processes: int | None = None
    disk: str | None = None
    verify: tuple[str, ...] = ()
    fix_rounds: int | None = None
    attempts: int | None = None  # a best-of-N group (cli/compare.py) ...
    agents: tuple[str, ...] = ()  # ... of these agents

    def limits(self) -> tuple[tuple[str, str | int], ...]:
        given = (
            ("memory", self.memory),
            ("cpu_time", self.cpu_time),
            ("processes", self.processes),
            ("disk", self.disk),
        )
        return tuple((key, value) for key, value in given if value is not None)


def run_run(opts: RunOptions, io: IOStreams) -> None:
    spec = read_spec(opts.spec_path, io)
    if opts.cloud:
        from ckrv.client.jobs import JobRequest

        repo_url, branch = _cloud_target(opts.repo, opts.base_branch, io)
        request = JobRequest(
            spec,
            repo_url,
            branch,
            opts.agent,
            opts.credential,
            opts.setup,
            _timeout(opts.timeout),
            opts.push,
            opts.network,
            opts.allow_hosts,
            opts.limits(),
            opts.verify,
            opts.fix_rounds,
        )
        if opts.attempts is not None or opts.agents:
            if opts.follow:
                raise click.UsageError(FOLLOW_ONE)
            run_group(
                opts.api_url, request, opts.attempts, opts.agents, io, opts.wait, opts.as_json
            )
            return
        _run_cloud(opts, request, io)
        return
    from ckrv.errors import UsageError

    cloud_only = (
        ("--repo", opts.repo),
        ("--credential", opts.credential),
        ("--push", opts.push),
        ("--network", opts.network),
        ("--allow-host", opts.allow_hosts),
        ("--memory", opts.memory),
        ("--cpu-time", opts.cpu_time),
        ("--processes", opts.processes is not None),
        ("--disk", opts.disk),
        ("--attempts", opts.attempts is not None),
        ("--agents", opts.agents),
    )
    for flag, given in cloud_only:
        if given:
            raise UsageError(
                f"{flag} only applies to --cloud runs",
                hint="a local run always uses the repository in the current directory",
            )
    _run_local(opts, spec, io)


def read_spec(path: str, io: IOStreams) -> str:
    from ckrv.errors import UsageError

    try:
        data = io.in_bytes() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the spec {path}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"the spec {path} is not UTF-8 text") from exc
    if not text.strip():
        raise UsageError(f"the spec {path} is empty")
    return text


def _timeout(value: str | None) -> float | None:
    from ckrv.timeutil import parse_duration

    return parse_duration(value) if value else None


@click.command()
@click.option(
    "--spec", "spec_path", required=True, metavar="FILE", help="The spec (markdown); - for stdin."
)
@click.option("--cloud", is_flag=True, help="Run on the server instead of this machine.")
@click.option(
    "--repo", metavar="URL", help="[--cloud] Repository URL [default: this checkout's origin]."
)
@click.option(
    "--base-branch", metavar="BRANCH", help="Branch to start from [default: the current one]."
)
@click.option(
    "--credential", metavar="NAME", help="[--cloud] Git credential for a private repository."
)
@click.option(
    "--agent", metavar="NAME", help="Agent to run [default: the server's / config's default]."
)
@click.option("--setup", metavar="CMD", help="Shell command run in the checkout before the agent.")
@click.option("--timeout", metavar="DURATION", help="Stop the job after this long, e.g. 30m.")
@click.option("--push", is_flag=True, help="[--cloud] Push the feature branch to the repository.")
@click.option(
    "--network",
    type=click.Choice(["open", "allowlist", "none"]),
    help="[--cloud] What the job's commands may reach; no wider than the server gives the "
    "job unless it lets jobs widen [default: the server's setting].",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="HOST",
    help="[--cloud] A host the job may reach under allowlist (name, *.name, name:port); "
    "repeatable.",
)
@click.option(
    "--memory",
    metavar="SIZE",
    help="[--cloud] Memory each process of the job's commands may use, e.g. 2G; only below "
    "the server's limit.",
)
@click.option(
    "--cpu-time",
    metavar="DURATION",
    help="[--cloud] CPU time each process may use, e.g. 10m; only below the server's limit.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    metavar="N",
    help="[--cloud] Processes a command may run at once; only below the server's limit.",
)
@click.option(
    "--disk",
    metavar="SIZE",
    help="[--cloud] Disk the job's workspace may fill, e.g. 5G; only below the server's limit.",
)
@click.option(
    "--verify",
    "verify",
    multiple=True,
    metavar="CMD",
    help="Shell command run after the agent, in its sandbox; the result is verified when "
    "each exits 0. Repeatable [default: the repository's (--cloud) or the agent's verify].",
)
@click.option(
    "--fix-rounds",
    type=click.IntRange(min=0),
    metavar="N",
    help="After a failing verify, run the agent again with the failing output, up to N "
    "times (max_fix_rounds bounds it: the server's, or config.toml's for a local run).",
)
@click.option(
    "--attempts",
    type=click.IntRange(min=1),
    metavar="N",
    help="[--cloud] Run the spec N times (of each of --agents), as a group ranked by "
    "`ckrv compare GROUP --pick auto`.",
)
@click.option(
    "--agents",
    metavar="A,B,...",
    help="[--cloud] Run the spec with each of these agents, as a group (instead of --agent).",
)
@click.option(
    "--wait",
    is_flag=True,
    help="[--cloud] Wait for the job to end: exit 0 if it succeeded, else 7.",
)
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="[--cloud] Print its log live while waiting (implies --wait).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the Job object as JSON (the final one when waiting).",
)
def run(
    spec_path: str,
    cloud: bool,
    repo: str | None,
    base_branch: str | None,
    credential: str | None,
    agent: str | None,
    setup: str | None,
    timeout: str | None,
    push: bool,
    network: str | None,
    allow_hosts: tuple[str, ...],
    memory: str | None,
    cpu_time: str | None,
    processes: int | None,
    disk: str | None,
    verify: tuple[str, ...],
    fix_rounds: int | None,
    attempts: int | None,
    agents: str | None,
    wait: bool,
    follow: bool,
    as_json: bool,
) -> None:
    """Run a coding agent on a spec and get the result as a diff.

    With --cloud the job is queued on your ckrv server, which clones --repo at --base-branch
    (by default this checkout's origin and current branch; the worker sees only what is
    pushed). The command returns once the job is queued, unless --wait or --follow.

    Without --cloud the same worker pipeline runs here, with no server: on a clone of this
    repository's --base-branch (its last commit; uncommitted changes are not included), the
    log printed live, --verify and --fix-rounds as on the server; the result is left as a
    commit on a local branch ckrv/<slug>-<id>.
    Agents are the presets plus [agents.NAME] tables in $CKRV_CONFIG_DIR/config.toml.

    \b
    Example:
      ckrv run --cloud --spec specs/add-retry.md
      ckrv run --cloud --spec specs/add-retry.md --base-branch main --follow
      ckrv run --cloud --spec specs/add-retry.md --memory 2G --cpu-time 10m
      ckrv run --cloud --spec specs/add-retry.md --verify 'pytest -q' --fix-rounds 2
      ckrv run --cloud --spec specs/add-retry.md --agents claude-code,codex --attempts 2
      ckrv run --spec specs/add-retry.md --agent aider
      ckrv run --spec specs/add-retry.md --verify 'pytest -q' --fix-rounds 2
    """
    run_run(
        RunOptions(
            api_url(),
            spec_path,
            cloud,
            repo,
            base_branch,
            credential,
            agent,
            setup,
            timeout,
            push,
            wait,
            follow,
            as_json,
            network,
            allow_hosts,
            memory,
            cpu_time,
            processes,
            disk,
            verify,
            fix_rounds,
            attempts,
            agent_list(agents, agent),
        ),
        streams(),
    )


def _cloud_target(
    repo_url: str | None, base_branch: str | None, io: IOStreams
) -> tuple[str, str | None]:
    from ckrv.client.repo import cloud_target

    target = cloud_target(repo_url, base_branch)
    if target.warning:
        io.warning(target.warning)
    return target.repo_url, target.base_branch


def _run_cloud(opts: RunOptions, request: JobRequest, io: IOStreams) -> None:
    from ckrv.client.jobs import create_job

    with user_api(opts.api_url) as api:
        job = create_job(api, request)
        report_queued(api, job, io, wait=opts.wait, follow=opts.follow, as_json=opts.as_json)


def _run_local(opts: RunOptions, spec: str, io: IOStreams) -> None:
    from ckrv.cli.logs import LinePrinter
    from ckrv.client import localrun, repo
    from ckrv.client.jobs import require_success

    root = repo.find_root()
    request = localrun.LocalRequest(
        spec,
        opts.base_branch,
        opts.agent,
        opts.setup,
        _timeout(opts.timeout),
        opts.verify,
        opts.fix_rounds,
    )
    job = localrun.describe_job(root, request, localrun.local_settings())
    if repo.divergence(root, job.git_base_branch).uncommitted:
        io.warning(
            f"uncommitted changes are not included: the run starts from the last "
            f"commit on {job.git_base_branch}"
        )
    out = io.stderr if opts.as_json else io.stdout
    click.echo(
        f"running job {io.paint(short_id(job.id), 'cyan', bold=True)} here: agent "
        f"{job.agent.name} on {job.git_base_branch} of {root}",
        file=out,
    )
    printer = LinePrinter(io, as_json=False, flush=True, stream=out)
    result = localrun.run_locally(root, job, printer.line)
    if opts.as_json:
        io.json(result.job)
    else:
        io.out("")
        io.out(_local_card(result, io))
    require_success(result.job, hint="the log above says what happened")


def _local_card(result: LocalResult, io: IOStreams) -> str:
    job = result.job
    outcome = visible(job.get("result_summary") or job.get("error_message") or "")
    lines = [f"{status_word(job, io)}: {outcome}"]
    verify, cost = verify_word(job, io), cost_text(job)
    if verify is not None:
        lines.append(f"verify: {verify}")
    if cost is not None:
        lines.append(f"cost: {cost}")
    if result.branch_created:
        branch, base = job["feature_branch_name"], job["base_commit"][:12]
        lines.append(f"the result is on branch {io.paint(branch, 'green')} (from {base})")
        lines += next_block(
            [
                (f"git switch {branch}", "check it out"),
                (f"git diff {base} {branch}", "review the changes"),
                (f"git merge {branch}", "or merge it into your current branch"),
            ],
            io,
        )
    return "\n".join(lines)
