"""`ckrv admin token`: create, list and revoke long-lived API tokens, on the data dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from ckrv.cli.context import data_dir, streams
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.output import table


@click.group()
def token() -> None:
    """Create, list and revoke long-lived API tokens (for CI).

    \b
    Example:
      export CKRV_TOKEN=$(ckrv admin token create ci@example.com --expires 30d)
      ckrv admin token list
    """


@dataclass(frozen=True)
class CreateOptions:
    data_dir: Path
    email: str
    expires: str = "90d"


def run_create(opts: CreateOptions, io: IOStreams) -> None:
    from ckrv.server.admin import create_token
    from ckrv.timeutil import parse_duration

    ttl = None if opts.expires == "never" else parse_duration(opts.expires)
    token_id, value = create_token(opts.data_dir, opts.email, ttl)
    io.out(value)
    io.err(f"token id {token_id}; revoke with: ckrv admin token revoke {token_id}")


@token.command("create")
@click.argument("email")
@click.option(
    "--expires", default="90d", show_default=True, help="Lifetime, e.g. 30d; `never` for none."
)
def token_create(email: str, expires: str) -> None:
    """Print a new API token for EMAIL (the token alone on stdout). Use it as CKRV_TOKEN.

    \b
    Example:
      export CKRV_TOKEN=$(ckrv admin token create ci@example.com --expires 30d)
    """
    run_create(CreateOptions(data_dir(), email, expires), streams())


@dataclass(frozen=True)
class ListOptions:
    data_dir: Path
    email: str | None = None
    as_json: bool = False


def run_list(opts: ListOptions, io: IOStreams) -> None:
    from ckrv.server.admin import list_tokens

    tokens = list_tokens(opts.data_dir, opts.email)
    if opts.as_json:
        io.json(tokens)
        return
    rows = [
        [
            t["id"],
            t["email"],
            t["created_at"][:19],
            (t["expires_at"] or "never")[:19],
            (t["last_used_at"] or "never")[:16],
            "revoked" if t["revoked_at"] else "active",
        ]
        for t in tokens
    ]
    io.out(table(rows, ["id", "email", "created", "expires", "last used", "state"]))


@token.command("list")
@click.option("--email", help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def token_list(email: str | None, as_json: bool) -> None:
    """List API tokens (ids and dates; never the tokens themselves).

    `last used` is kept to the minute.

    \b
    Example:
      ckrv admin token list --email ci@example.com
    """
    run_list(ListOptions(data_dir(), email, as_json), streams())


@dataclass(frozen=True)
class RevokeOptions:
    data_dir: Path
    token_id: str


def run_revoke(opts: RevokeOptions, io: IOStreams) -> None:
    from ckrv.server.admin import revoke_token

    revoke_token(opts.data_dir, opts.token_id)
    io.out(f"revoked {opts.token_id}")


@token.command("revoke")
@click.argument("token_id")
def token_revoke(token_id: str) -> None:
    """Revoke the API token with TOKEN_ID.

    \b
    Example:
      ckrv admin token revoke 3f2a9c0d1b2e
    """
    run_revoke(RevokeOptions(data_dir(), token_id), streams())
