"""`ckrv demo [--keep]`: the narration's styling; the demo itself is ckrv.demo.flow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ckrv.cli.output import paint

if TYPE_CHECKING:
    from ckrv.demo.flow import DemoResult

_DIFF_COLORS = (
    ("+++", "bright_white"),
    ("---", "bright_white"),
    ("+", "green"),
    ("-", "red"),
    ("@@", "cyan"),
    ("diff ", "bright_white"),
)


def _say(text: str) -> None:
    click.echo(text)


def _diff(text: str) -> None:
    click.echo()
    for line in text.rstrip("\n").splitlines():
        color = next((c for prefix, c in _DIFF_COLORS if line.startswith(prefix)), None)
        click.echo(paint(line, color) if color else line)
    click.echo()


def _kept(result: DemoResult, ckrv: str) -> None:
    from ckrv.contracts.jobmodel import short_id

    sid, root = short_id(result.job["id"]), result.root
    base_url = result.api_url.removesuffix("/v1")
    click.echo(
        f"7. The server is still running (pid {result.server_pid}); everything is in {root}:"
    )
    click.echo(f"     data dir {root / 'data'}, server log {root / 'server.log'}")
    click.echo(f"     sample checkout {root / 'sample'}, spec {root / 'spec.md'}")
    click.echo()
    click.echo("   Use it from another shell:")
    click.echo(f"     export CHAKRAVARTI_API_URL={result.api_url}")
    click.echo(f"     export CKRV_TOKEN={result.token}")
    click.echo(f"     {ckrv} jobs")
    click.echo(f"     {ckrv} status {sid}")
    click.echo(f"     {ckrv} logs {sid}")
    click.echo(f"     cd {root / 'sample'} && {ckrv} run --cloud --spec ../spec.md --follow")
    click.echo(f"   or sign in with `{ckrv} cloud login`: the page at {base_url}/activate takes")
    click.echo(
        f"   {result.job.get('user_email') or 'demo@example.com'} with the password "
        f"{result.password}"
    )
    click.echo()
    click.echo("   Stop the server and remove everything:")
    click.echo(f"     kill {result.server_pid} && rm -rf {root}")


@click.command()
@click.option(
    "--keep", is_flag=True, help="Keep the server running and its data, and print how to use them."
)
def demo(keep: bool) -> None:
    """Try ckrv end to end in one command, on this machine, in a few seconds.

    Starts a server on a free loopback port with a temporary data dir, creates a demo user and
    token and a small sample repository, runs one job with the bundled example agent (a
    scripted stand-in, not an AI model) while following its log live, then pulls the diff into
    a checkout of the sample and shows it. Afterwards the server is stopped and every file
    removed, unless --keep.

    \b
    Example:
      ckrv demo
      ckrv demo --keep
    """
    from ckrv.cli.logs import LinePrinter
    from ckrv.demo.flow import DemoOutput, ckrv_invocation, run_demo

    click.echo("ckrv demo: one job, end to end, on this machine.")
    printer = LinePrinter(as_json=False, flush=True)
    result = run_demo(DemoOutput(say=_say, log=printer.line, diff=_diff), keep=keep)
    ckrv = ckrv_invocation()
    if keep:
        _kept(result, ckrv)
    else:
        click.echo(f"7. Stopped the server and removed {result.root}.")
    click.echo()
    click.echo(f"Done in {result.seconds:.1f} s.")
    click.echo("The example agent is a script, not a model: it wrote what the spec spelled out.")
    click.echo(f"Next: run a server of your own (`{ckrv} serve`) with a real agent; see the")
    click.echo("README, sections Running a server and Agents.")
