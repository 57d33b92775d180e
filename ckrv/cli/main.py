"""The `ckrv` command. Errors from anywhere below are mapped to exit codes here, in one place:
0 ok, 1 error, 2 usage, 3 not authenticated, 4 not found, 5 quota exceeded, 6 server
unreachable, 7 a waited-on job ended unsuccessfully, 8 `pull --require-verified` of a result
that is not verified, 130 interrupted."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ckrv import __version__
from ckrv.cli.context import Invocation
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.lazy import LazyGroup
from ckrv.errors import CkrvError

COMMANDS = {
    "run": ("ckrv.cli.run:run", "Run an agent on a spec: on the server (--cloud) or here."),
    "status": ("ckrv.cli.jobs:status", "Show a job's status, phase, timing and result."),
    "jobs": ("ckrv.cli.jobs:jobs", "List your jobs, newest first."),
    "logs": ("ckrv.cli.logs:logs", "Print a job's log; -f follows it live."),
    "pull": ("ckrv.cli.pull:pull", "Apply a job's diff to the local checkout."),
    "compare": ("ckrv.cli.compare:compare", "Compare a group's attempts; rank them, pick one."),
    "continue": (
        "ckrv.cli.continue_job:continue_",
        "Follow up on a job: a new job that starts from its result.",
    ),
    "cancel": ("ckrv.cli.jobs:cancel", "Cancel a pending or running job."),
    "cloud": ("ckrv.cli.cloud:cloud", "Log in to a server; manage credentials and secrets."),
    "serve": ("ckrv.cli.serve:serve", "Run the ckrv server (API, dispatcher, workers)."),
    "admin": ("ckrv.cli.admin:admin", "Manage users, tokens and keys in a server's data dir."),
    "worker": ("ckrv.cli.worker:worker", "Run one job's worker (started by the server)."),
    "demo": ("ckrv.cli.demo:demo", "Try ckrv end to end in one command, on this machine."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ckrv", message="%(prog)s %(version)s")
@click.option(
    "--api-url",
    envvar="CHAKRAVARTI_API_URL",
    metavar="URL",
    help="Server API URL [env CHAKRAVARTI_API_URL; default http://127.0.0.1:8420/v1].",
)
@click.pass_context
def cli(ctx: click.Context, api_url: str | None) -> None:
    """ckrv runs AI coding-agent jobs on your own server and brings the result back as a diff.

    \b
    Example:
      ckrv cloud login
      ckrv run --cloud --spec specs/add-retry.md --wait
      ckrv pull 3f8a9b2c
    """
    from ckrv.paths import api_url as resolve

    ctx.ensure_object(Invocation).api_url = resolve(api_url)


def run_cli(argv: Sequence[str] | None, io: IOStreams) -> int:
    """Run `ckrv ARGV` writing to `io`; its exit code. The one place errors become exit codes."""
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="ckrv",
            standalone_mode=False,
            obj=Invocation(io),
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:  # click has already ended the line on stderr
        return 130
    except click.ClickException as exc:
        exc.show(file=io.stderr)
        return exc.exit_code
    except CkrvError as exc:
        io.error(exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run_cli(argv, IOStreams.system()))
