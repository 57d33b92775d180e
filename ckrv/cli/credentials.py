"""`ckrv cloud credentials`: add, list and remove the git credentials jobs clone with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from ckrv.cli.context import api_url, streams, user_api
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.output import table
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


@dataclass(frozen=True)
class AddOptions:
    api_url: str
    name: str
    provider: str = "generic"
    credential_type: str | None = None
    from_file: Path | None = None
    as_json: bool = False


def run_add(opts: AddOptions, io: IOStreams) -> None:
    from ckrv.cli.secretinput import looks_like_private_key, read_value
    from ckrv.client import credentials as client

    deploy_key = opts.credential_type == "deploy_key"
    value = read_value(
        io, "Deploy key" if deploy_key else "Token", opts.from_file, multiline=deploy_key
    )
    kind = opts.credential_type or ("deploy_key" if looks_like_private_key(value) else "pat")
    with user_api(opts.api_url) as api:
        stored = client.add_credential(api, opts.name, opts.provider, kind, value)
    if opts.as_json:
        io.json(stored)
    else:
        io.out(
            f"added credential {stored['name']} ({stored['provider']} "
            f"{stored['credential_type']}); use it with --credential {stored['name']}"
        )


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
    options = AddOptions(api_url(), name, provider, credential_type, from_file, as_json)
    run_add(options, streams())


@dataclass(frozen=True)
class ListOptions:
    api_url: str
    as_json: bool = False


def run_list(opts: ListOptions, io: IOStreams) -> None:
    from ckrv.client import credentials as client

    with user_api(opts.api_url) as api:
        items = client.list_credentials(api)
    if opts.as_json:
        io.json(items)
        return
    if not items:
        io.out("no credentials yet; add one with: ckrv cloud credentials add --name NAME")
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
    io.out(table(rows, ["name", "provider", "type", "created", "last used"]))


@credentials.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List your git credentials: names, providers, types, dates; never the values.

    \b
    Example:
      ckrv cloud credentials list --json
    """
    run_list(ListOptions(api_url(), as_json), streams())


@dataclass(frozen=True)
class RemoveOptions:
    api_url: str
    name: str


def run_remove(opts: RemoveOptions, io: IOStreams) -> None:
    from ckrv.client import credentials as client

    with user_api(opts.api_url) as api:
        client.remove_credential(api, opts.name)
    io.out(f"removed credential {opts.name}")


@credentials.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Delete the git credential NAME.

    \b
    Example:
      ckrv cloud credentials remove github-work
    """
    run_remove(RemoveOptions(api_url(), name), streams())
