"""`ckrv logs JOB [-f] [-n N] [--json]`, and the line printer `ckrv run` and `ckrv demo` share."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

import click

from ckrv.cli.context import api_url, streams, user_api
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.output import visible

_LEVEL_COLORS = {"error": "red", "warn": "yellow", "debug": "bright_black"}


class LinePrinter:
    """Prints log entries as `HH:MM:SS source: message` (local time), level-coloured on a
    terminal, control characters shown as text, or as one JSON object per line; to io's stdout
    unless given another stream."""

    def __init__(
        self, io: IOStreams, *, as_json: bool, flush: bool, stream: TextIO | None = None
    ) -> None:
        self.stream = stream or io.stdout
        self.as_json, self.flush = as_json, flush
        self.color = io.color(self.stream) and not as_json
        self._clock_key, self._clock = "", ""

    def _local_time(self, timestamp: str) -> str:
        # Lines come many per second: the local HH:MM:SS depends only on the first 19 chars.
        key = timestamp[:19]
        if key != self._clock_key:
            try:
                moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
                self._clock = moment.astimezone().strftime("%H:%M:%S")
            except ValueError:
                self._clock = key[11:19] or "--:--:--"
            self._clock_key = key
        return self._clock

    def line(self, entry: dict[str, str | int]) -> None:
        if self.as_json:
            text = json.dumps(entry, ensure_ascii=False)
        else:
            clock, source = self._local_time(str(entry["timestamp"])), visible(str(entry["source"]))
            message, color = visible(str(entry["message"])), _LEVEL_COLORS.get(str(entry["level"]))
            if self.color:
                clock = click.style(clock, dim=True)
                message = click.style(message, fg=color) if color else message
            text = f"{clock} {source}: {message}"
        self.stream.write(text + "\n")
        if self.flush:
            self.stream.flush()


@dataclass(frozen=True)
class LogsOptions:
    api_url: str
    job: str
    follow: bool = False
    tail: int | None = None
    as_json: bool = False


def run_logs(opts: LogsOptions, io: IOStreams) -> None:
    from ckrv.client.jobs import require_success, resolve_job_id, wait_for_job
    from ckrv.client.logstream import fetch

    printer = LinePrinter(io, as_json=opts.as_json, flush=opts.follow)
    try:
        with user_api(opts.api_url) as api:
            job_id = resolve_job_id(api, opts.job)
            if not opts.follow:
                for entry in fetch(api, job_id, tail=opts.tail):
                    printer.line(entry.as_dict())
                return
            final = wait_for_job(api, job_id, on_log=printer.line, tail=opts.tail)
    except KeyboardInterrupt:
        raise click.exceptions.Exit(130) from None
    except BrokenPipeError:
        _quiet(io.stdout)  # `ckrv logs ... | head`: the reader has gone, so has our job
        return
    require_success(final, hint="its log is above")


def _quiet(stream: TextIO) -> None:
    """Point `stream`'s descriptor at /dev/null, so flushing it at exit raises nothing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())


@click.command()
@click.argument("job")
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep printing new lines until the job ends; exit 0 if it succeeded, else 7.",
)
@click.option(
    "-n",
    "--tail",
    type=click.IntRange(min=0),
    metavar="N",
    help="Only the last N lines (then, with -f, everything new).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON log entry per line.")
def logs(job: str, follow: bool, tail: int | None, as_json: bool) -> None:
    """Print a job's log: lines as `HH:MM:SS source: message`.

    JOB is a job id or a unique prefix of at least 8 characters. With -f the log is followed
    live, across dropped connections and server restarts, until the job ends.

    \b
    Example:
      ckrv logs 3f8a9b2c -f
      ckrv logs 3f8a9b2c -n 50 --json
    """
    run_logs(LogsOptions(api_url(), job, follow, tail, as_json), streams())
