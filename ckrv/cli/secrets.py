"""`ckrv cloud secrets`: set, list and remove the secrets every job's agent gets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from ckrv.cli.context import api_url, streams, user_api
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.output import table


@click.group()
def secrets() -> None:
    """Secrets (e.g. model API keys) in the environment of every job's setup, agent and verify.

    Values are encrypted on the server, masked in job logs, and never shown again.

    \b
    Example:
      ckrv cloud secrets set ANTHROPIC_API_KEY
      ckrv cloud secrets list
    """


@dataclass(frozen=True)
class SetOptions:
    api_url: str
    name: str
    from_file: Path | None = None
    as_json: bool = False


def run_set(opts: SetOptions, io: IOStreams) -> None:
    from ckrv.cli.secretinput import read_value
    from ckrv.client import credentials as client

    value = read_value(io, "Value", opts.from_file)
    with user_api(opts.api_url) as api:
        stored, created = client.set_secret(api, opts.name, value)
    if opts.as_json:
        io.json(stored)
    else:
        io.out(f"{'created' if created else 'replaced'} secret {stored['name']}")


@secrets.command("set")
@click.argument("name")
@click.option(
    "--from-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Read the value from this file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the stored secret's name and dates.")
def set_(name: str, from_file: Path | None, as_json: bool) -> None:
    """Create or replace the secret NAME (an environment variable name). The value comes from
    --from-file, from standard input when it is not a terminal, or from a hidden prompt.

    \b
    Example:
      ckrv cloud secrets set ANTHROPIC_API_KEY
      printenv OPENAI_API_KEY | ckrv cloud secrets set OPENAI_API_KEY
    """
    run_set(SetOptions(api_url(), name, from_file, as_json), streams())


@dataclass(frozen=True)
class ListOptions:
    api_url: str
    as_json: bool = False


def run_list(opts: ListOptions, io: IOStreams) -> None:
    from ckrv.client import credentials as client

    with user_api(opts.api_url) as api:
        items = client.list_secrets(api)
    if opts.as_json:
        io.json(items)
        return
    if not items:
        io.out("no secrets yet; add one with: ckrv cloud secrets set NAME")
        return
    rows = [[s["name"], s["created_at"][:19], s["updated_at"][:19]] for s in items]
    io.out(table(rows, ["name", "created", "updated"]))


@secrets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List your secrets' names and dates; never the values.

    \b
    Example:
      ckrv cloud secrets list --json
    """
    run_list(ListOptions(api_url(), as_json), streams())


@dataclass(frozen=True)
class RemoveOptions:
    api_url: str
    name: str


def run_remove(opts: RemoveOptions, io: IOStreams) -> None:
    from ckrv.client import credentials as client

    with user_api(opts.api_url) as api:
        client.remove_secret(api, opts.name)
    io.out(f"removed secret {opts.name}")


@secrets.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Delete the secret NAME.

    \b
    Example:
      ckrv cloud secrets remove ANTHROPIC_API_KEY
    """
    run_remove(RemoveOptions(api_url(), name), streams())
