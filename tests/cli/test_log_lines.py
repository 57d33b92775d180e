"""How `ckrv logs` prints lines: local time, source, message; colours by level on a terminal only
and never with NO_COLOR; --json one entry per line. (Following is tested in
tests/e2e/test_log_following.py.)"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator

import pytest

from ckrv.cli.iostreams import IOStreams
from ckrv.cli.logs import LinePrinter
from ckrv.client.logstream import LogEvent, StatusEvent, parse_sse


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def india(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30: a half-hour offset shows conversion
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def streams(stdout: io.StringIO) -> IOStreams:
    """Streams writing to `stdout`, with this process's environment (NO_COLOR as set)."""
    return IOStreams(stdout, io.StringIO(), io.StringIO(), os.environ)


def entry(
    level: str = "info", message: str = "hello", ts: str = "2026-01-01T00:00:00.000Z"
) -> dict[str, str | int]:
    return {"seq": 1, "timestamp": ts, "level": level, "source": "claude-code", "message": message}


def test_lines_show_local_time_source_and_message(india: None) -> None:
    out = io.StringIO()
    printer = LinePrinter(streams(out), as_json=False, flush=False)
    printer.line(entry(ts="2026-01-01T00:00:00.000Z"))
    printer.line(entry(ts="2026-01-01T23:59:59.999Z", message="late"))
    assert out.getvalue() == "05:30:00 claude-code: hello\n05:29:59 claude-code: late\n"


def test_levels_are_coloured_on_a_terminal_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = Terminal()
    printer = LinePrinter(streams(tty), as_json=False, flush=False)
    printer.line(entry("error", "boom"))
    printer.line(entry("warn", "careful"))
    printer.line(entry("info", "fine"))
    error, warn, info = tty.getvalue().splitlines()
    assert (
        "\x1b[31mboom" in error
        and "\x1b[33mcareful" in warn
        and info.endswith(" claude-code: fine")
    )
    monkeypatch.setenv("NO_COLOR", "1")
    plain = Terminal()
    LinePrinter(streams(plain), as_json=False, flush=False).line(entry("error", "boom"))
    assert "\x1b[" not in plain.getvalue()
    piped = io.StringIO()
    monkeypatch.delenv("NO_COLOR")
    LinePrinter(streams(piped), as_json=False, flush=False).line(entry("error", "boom"))
    assert "\x1b[" not in piped.getvalue()


def test_json_prints_one_entry_per_line() -> None:
    out = io.StringIO()
    printer = LinePrinter(streams(out), as_json=True, flush=False)
    printer.line(entry(message="multi\nline"))
    printer.line(entry(message="two"))
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["multi\nline", "two"]


def test_the_stream_parser_reads_events_ids_and_done_and_skips_heartbeats() -> None:
    wire = [
        "id: 4",
        "event: status",
        'data: {"id": "j", "status": "running", "phase": "executing"}',
        "",
        ": keep-alive",
        "",
        "id: 5",
        "event: log",
        'data: {"seq":5,"timestamp":"t","level":"info","source":"s","message":"m"}',
        "",
        "event: status",
        'data: {"id": "j", "status": "failed", "phase": null}',
        "",
        "data: [DONE]",
        "",
    ]
    events = list(parse_sse(wire))
    assert [event_id for _, event_id in events] == ["4", "5", None, None]
    status, log, final, done = (event for event, _ in events)
    assert isinstance(status, StatusEvent) and status.phase == "executing" and not status.final
    assert log == LogEvent(5, "t", "info", "s", "m")
    assert isinstance(final, StatusEvent) and final.final and final.status == "failed"
    assert done is None
