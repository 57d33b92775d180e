"""`ckrv demo [--keep]`: the narration's styling; the demo itself is ckrv.demo.flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from ckrv.cli.context import streams
from ckrv.cli.iostreams import IOStreams

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


def _diff(io: IOStreams, text: str) -> None:
    io.out()
    for line in text.rstrip("\n").splitlines():
        color = next((c for prefix, c in _DIFF_COLORS if line.startswith(prefix)), None)
        io.out(io.paint(line, color) if color else line)
    io.out()


def _kept(io: IOStreams, result: DemoResult, ckrv: str) -> None:
    from ckrv.contracts.jobmodel import short_id

    sid, root = short_id(result.job["id"]), result.root
    base_url = result.api_url.removesuffix("/v1")
    io.out(f"7. The server is still running (pid {result.server_pid}); everything is in {root}:")
    io.out(f"     data dir {root / 'data'}, server log {root / 'server.log'}")
    io.out(f"     sample checkout {root / 'sample'}, spec {root / 'spec.md'}")
    io.out()
    io.out("   Use it from another shell:")
    io.out(f"     export CHAKRAVARTI_API_URL={result.api_url}")
    io.out(f"     export CKRV_TOKEN={result.token}")
    io.out(f"     {ckrv} jobs")
    io.out(f"     {ckrv} status {sid}")
    io.out(f"     {ckrv} logs {sid}")
    io.out(f"     cd {root / 'sample'} && {ckrv} run --cloud --spec ../spec.md --follow")
    io.out(f"   or sign in with `{ckrv} cloud login`: the page at {base_url}/activate takes")
    io.out(
        f"   {result.job.get('user_email') or 'demo@example.com'} with the password "
        f"{result.password}"
    )
    io.out()
    io.out("   Stop the server and remove everything:")
    io.out(f"     kill {result.server_pid} && rm -rf {root}")


@dataclass(frozen=True)
class DemoOptions:
    keep: bool = False


def run_demo(opts: DemoOptions, io: IOStreams) -> None:
    from ckrv.cli.logs import LinePrinter
    from ckrv.demo import flow

    io.out("ckrv demo: one job, end to end, on this machine.")
    printer = LinePrinter(io, as_json=False, flush=True)
    output = flow.DemoOutput(say=io.out, log=printer.line, diff=lambda text: _diff(io, text))
    result = flow.run_demo(output, keep=opts.keep)
    ckrv = flow.ckrv_invocation()
    if opts.keep:
        _kept(io, result, ckrv)
    else:
        io.out(f"7. Stopped the server and removed {result.root}.")
    io.out()
    io.out(f"Done in {result.seconds:.1f} s.")
    io.out("The example agent is a script, not a model: it wrote what the spec spelled out.")
    io.out(f"Next: run a server of your own (`{ckrv} serve`) with a real agent; see the")
    io.out("README, sections Running a server and Agents.")


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
    run_demo(DemoOptions(keep), streams())
