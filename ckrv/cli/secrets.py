"""`ckrv cloud secrets`: set, list and remove the secrets every job's agent gets."""

from __future__ import annotations

from pathlib import Path

import click

from ckrv.cli.context import user_api
from ckrv.cli.output import emit_json, table


@click.group()
def secrets() -> None:
    """Secrets (e.g. model API keys) in the environment of every job's setup, agent and verify.

    Values are encrypted on the server, masked in job logs, and never shown again.

    \b
    Example:
      ckrv cloud secrets set ANTHROPIC_API_KEY
      ckrv cloud secrets list
    """


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
    from ckrv.client import credentials as client

    value = client.read_value("Value", from_file)
    with user_api() as api:
        stored, created = client.set_secret(api, name, value)
    if as_json:
        emit_json(stored)
    else:
        click.echo(f"{'created' if created else 'replaced'} secret {stored['name']}")


@secrets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List your secrets' names and dates; never the values.

    \b
    Example:
      ckrv cloud secrets list --json
    """
    from ckrv.client import credentials as client

    with user_api() as api:
        items = client.list_secrets(api)
    if as_json:
        emit_json(items)
        return
    if not items:
        click.echo("no secrets yet; add one with: ckrv cloud secrets set NAME")
        return
    rows = [[s["name"], s["created_at"][:19], s["updated_at"][:19]] for s in items]
    click.echo(table(rows, ["name", "created", "updated"]))


@secrets.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Delete the secret NAME.

    \b
    Example:
      ckrv cloud secrets remove ANTHROPIC_API_KEY
    """
    from ckrv.client import credentials as client

    with user_api() as api:
        client.remove_secret(api, name)
    click.echo(f"removed secret {name}")
