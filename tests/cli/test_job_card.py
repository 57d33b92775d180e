"""The job card and the watcher's redraws, called directly with captured streams (what a
command's run function gets): colour and in-place redraws on a terminal only, plain lines
otherwise, never colour with NO_COLOR."""

from __future__ import annotations

import io
from typing import Any

from ckrv.cli.iostreams import IOStreams
from ckrv.cli.jobcard import Redrawer, card


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def streams(stdout: io.StringIO, **env: str) -> IOStreams:
    return IOStreams(stdout, io.StringIO(), io.StringIO(), env)


def job(status: str, phase: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": "3f8a9b2c-0000-4000-8000-000000000001",
        "status": status,
        "phase": phase,
        "git_repo_url": "https://example.com/app.git",
        "git_base_branch": "main",
        **fields,
    }


def test_the_card_is_coloured_on_a_terminal_only_and_never_with_no_color() -> None:
    coloured = card(job("failed", error_message="boom\nagain"), streams(Terminal()))
    assert "\x1b[" in coloured and "boom" in coloured
    assert "\x1b[" not in card(job("failed"), streams(io.StringIO()))
    assert "\x1b[" not in card(job("failed"), streams(Terminal(), NO_COLOR="1"))


def test_a_pipe_gets_one_line_per_change_then_the_final_card() -> None:
    out = io.StringIO()
    redraw = Redrawer(streams(out), as_json=False)
    for state in (job("pending"), job("running", "cloning"), job("running", "cloning")):
        redraw.show(state)
    redraw.show(job("succeeded", result_summary="done"))
    lines = out.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines[:2]] == ["pending", "running (cloning)"]
    assert lines[2].startswith("Job 3f8a9b2c") and "summary     done" in out.getvalue()
    assert "\x1b[" not in out.getvalue()


def test_a_terminal_gets_the_card_redrawn_in_place() -> None:
    tty = Terminal()
    redraw = Redrawer(streams(tty, NO_COLOR="1"), as_json=False)
    redraw.show(job("pending"))
    redraw.show(job("running", "executing"))
    first, second = tty.getvalue().split("\x1b[J")  # the second draw clears the first
    assert first.startswith("Job ") and second.startswith("Job ")
    assert "status      running (executing)" in second
