"""Reading a secret value without it ever passing through argv: from a file, from stdin when
it is not a terminal, or from a hidden prompt."""

from __future__ import annotations

from pathlib import Path

from ckrv.cli.iostreams import IOStreams
from ckrv.errors import UsageError

_PRIVATE_KEY_MARK = "PRIVATE KEY-----"


def read_value(io: IOStreams, what: str, from_file: Path | None, *, multiline: bool = False) -> str:
    """The value from `from_file`, from stdin when it is not a terminal, else a hidden prompt
    (one line only: a `multiline` value such as a private key must come from a file or stdin)."""
    if from_file is not None:
        try:
            value = from_file.read_text()
        except OSError as exc:
            raise UsageError(f"cannot read {from_file}: {exc.strerror}") from exc
    elif not io.is_tty(io.stdin):
        value = io.stdin.read()
    elif multiline:
        raise UsageError(
            f"a {what.lower()} has several lines, which a prompt cannot take",
            hint="pass --from-file PATH, or pipe it: ... < ~/.ssh/deploy_key",
        )
    else:
        import click

        value = click.prompt(
            f"{what} (input hidden)", hide_input=True, default="", show_default=False
        )
    value = value if _PRIVATE_KEY_MARK in value else value.strip("\r\n")
    if not value.strip():
        raise UsageError(f"the {what.lower()} is empty")
    return value


def looks_like_private_key(value: str) -> bool:
    return _PRIVATE_KEY_MARK in value
