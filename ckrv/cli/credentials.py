"""`ckrv cloud credentials`: add, list and remove the git credentials jobs clone with."""

from __future__ import annotations

from pathlib import Path

import click

from ckrv.cli.context import user_api
from ckrv.cli.output import emit_json, table
from ckrv.contracts.credentials import CREDENTIAL_TYPES, PROVIDERS


@click.group()
def credentials() -> None:
    """Git credentials (personal access tokens, ssh deploy keys) for private repositories.

    Values are encrypted on the server and never shown again; a job uses one when run with
    --credential NAME.

    \b
    Example:
      ckrv cloud credentials add --name github-work --provider github
      ckrv run --cloud --spec spec.md --repo https://github.com/me/app.git --credential github-work
    """


@credentials.command("add")
@click.option("--name", required=True, help="Name to refer to it by: a-z, 0-9 and '-'.")
@click.option(
    "--provider",
    type=click.Choice(PROVIDERS),
    default="generic",
    show_default=True,
    help="The git host; it sets the username that goes with a token.",
)
@click.option(
    "--credential-type",
    type=click.Choice(CREDENTIAL_TYPES),
    help="pat or deploy_key [default: deploy_key when the value is a private key].",
)
@click.option(
    "--from-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Read the value from this file (e.g. a deploy key).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the stored credential as JSON.")
def add(
    name: str, provider: str, credential_type: str | None, from_file: Path | None, as_json: bool
) -> None:
    """Store a git credential. The value comes from --from-file, from standard input when it
    is not a terminal, or from a hidden prompt; never from the command line.

    \b
    Example:
      ckrv cloud credentials add --name github-work --provider github
      ckrv cloud credentials add --name deploy --from-file ~/.ssh/app_deploy_key
      gh auth token | ckrv cloud credentials add --name gh --provider github
    """
    from ckrv.client import credentials as client

    value = client.read_value(
        "Token" if credential_type != "deploy_key" else "Deploy key",
        from_file,
        multiline=credential_type == "deploy_key",
    )
    kind = credential_type or ("deploy_key" if client.looks_like_private_key(value) else "pat")
    with user_api() as api:
        stored = client.add_credential(api, name, provider, kind, value)
    if as_json:
        emit_json(stored)
    else:
        click.echo(
            f"added credential {stored['name']} ({stored['provider']} "
            f"{stored['credential_type']}); use it with --credential {stored['name']}"
        )


@credentials.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List your git credentials: names, providers, types, dates; never the values.

    \b
    Example:
      ckrv cloud credentials list --json
    """
    from ckrv.client import credentials as client

    with user_api() as api:
        items = client.list_credentials(api)
    if as_json:
        emit_json(items)
        return
    if not items:
        click.echo("no credentials yet; add one with: ckrv cloud credentials add --name NAME")
        return
    rows = [
        [
            c["name"],
            c["provider"],
            c["credential_type"],
            c["created_at"][:19],
            (c["last_used_at"] or "never")[:19],
        ]
        for c in items
    ]
    click.echo(table(rows, ["name", "provider", "type", "created", "last used"]))


@credentials.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Delete the git credential NAME.

    \b
    Example:
      ckrv cloud credentials remove github-work
    """
    from ckrv.client import credentials as client

    with user_api() as api:
        client.remove_credential(api, name)
    click.echo(f"removed credential {name}")
