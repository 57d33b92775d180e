"""What a command reads and writes, and what it knows of where it runs: its three streams,
whether each is a terminal, and the environment. Every command's run function takes one, so a
test runs a command in-process with captured streams (as GitHub CLI's iostreams)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import click


class IOStreams:
    # A plain class, not a dataclass, like everything `ckrv --help` imports: start-up time.
    def __init__(
        self, stdout: TextIO, stderr: TextIO, stdin: TextIO, env: Mapping[str, str]
    ) -> None:
        self.stdout, self.stderr, self.stdin, self.env = stdout, stderr, stdin, env

    @classmethod
    def system(cls) -> IOStreams:
        """The process's own streams and environment (what `ckrv` gets when run for real)."""
        return cls(sys.stdout, sys.stderr, sys.stdin, os.environ)

    @staticmethod
    def is_tty(stream: TextIO) -> bool:
        return hasattr(stream, "isatty") and stream.isatty()

    @property
    def stdout_is_tty(self) -> bool:
        return self.is_tty(self.stdout)

    @property
    def stderr_is_tty(self) -> bool:
        return self.is_tty(self.stderr)

    def color(self, stream: TextIO | None = None) -> bool:
        """Colour only on a terminal, and never with NO_COLOR set."""
        return "NO_COLOR" not in self.env and self.is_tty(stream or self.stdout)

    def paint(
        self, text: str, color: str, *, bold: bool = False, stream: TextIO | None = None
    ) -> str:
        return click.style(text, fg=color, bold=bold) if self.color(stream) else text

    def out(self, text: str = "", *, nl: bool = True) -> None:
        click.echo(text, file=self.stdout, nl=nl)

    def err(self, text: str = "", *, nl: bool = True) -> None:
        click.echo(text, file=self.stderr, nl=nl)

    def out_bytes(self, data: bytes) -> None:
        """`data` as is (a patch need not be UTF-8)."""
        self.stdout.flush()
        buffer = getattr(self.stdout, "buffer", None)
        if buffer is None:
            self.stdout.write(data.decode("utf-8", errors="surrogateescape"))
        else:
            buffer.write(data)
            buffer.flush()

    def in_bytes(self) -> bytes:
        """All of stdin as is (a spec is decoded, and its encoding checked, by the caller)."""
        buffer = getattr(self.stdin, "buffer", None)
        return buffer.read() if buffer is not None else self.stdin.read().encode()

    def json(self, value: Any) -> None:
        """JSON as the API has it: field order kept, not sorted."""
        import json

        self.out(json.dumps(value, indent=2, ensure_ascii=False))

    def error(self, message: str, hint: str | None = None) -> None:
        """`error: MESSAGE` and `hint: HINT`, control characters shown (a job's error message
        holds what its agent printed)."""
        from ckrv.cli.output import visible

        self.err(f"{self.paint('error:', 'red', bold=True, stream=self.stderr)} {visible(message)}")
        if hint:
            self.err(f"{self.paint('hint:', 'yellow', stream=self.stderr)} {visible(hint)}")

    def warning(self, message: str) -> None:
        from ckrv.cli.output import visible

        label = self.paint("warning:", "yellow", bold=True, stream=self.stderr)
        self.err(f"{label} {visible(message)}")
