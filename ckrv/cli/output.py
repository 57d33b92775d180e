"""Printing for humans and scripts: colour only on a terminal and never with NO_COLOR; JSON
output stable (sorted keys are not used: field order follows the API)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

import click


def use_color(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def paint(text: str, color: str, *, bold: bool = False, stream: TextIO | None = None) -> str:
    return click.style(text, fg=color, bold=bold) if use_color(stream) else text


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def emit_error(message: str, hint: str | None = None) -> None:
    click.echo(f"{paint('error:', 'red', bold=True, stream=sys.stderr)} {message}", err=True)
    if hint:
        click.echo(f"{paint('hint:', 'yellow', stream=sys.stderr)} {hint}", err=True)


def emit_warning(message: str) -> None:
    click.echo(f"{paint('warning:', 'yellow', bold=True, stream=sys.stderr)} {message}", err=True)


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
