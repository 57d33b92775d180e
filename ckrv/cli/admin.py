"""`ckrv admin`: users, API tokens, device approval and key rotation, on the data dir."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ckrv.cli.output import emit_json, table
from ckrv.paths import default_data_dir
from ckrv.timeutil import parse_duration


def _data_dir(ctx: click.Context) -> Path:
    return ctx.obj["data_dir"]  # type: ignore[no-any-return]


@click.group()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    envvar="CKRV_DATA_DIR",
    help="The server's data dir [env CKRV_DATA_DIR].",
)
@click.pass_context
def admin(ctx: click.Context, data_dir: Path | None) -> None:
    """Manage users, API tokens and keys directly in a server's data dir.

    Works whether or not the server is running.

    \b
    Example:
      ckrv admin --data-dir /srv/ckrv user add ada@example.com --name Ada --tier pro
    """
    ctx.obj = {**(ctx.obj or {}), "data_dir": data_dir or default_data_dir()}


@admin.group()
def user() -> None:
    """Add and list users; change a user's tier.

    \b
    Example:
      ckrv admin user add ada@example.com --name Ada --tier pro
      ckrv admin user list
    """


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.UsageError("the password must be at least 8 characters")
    return password


@user.command("add")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option(
    "--tier",
    type=click.Choice(["free", "pro", "enterprise"]),
    default="free",
    show_default=True,
    help="Jobs per month: free 10, pro 100, enterprise 1000.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def user_add(ctx: click.Context, email: str, name: str, tier: str, password_stdin: bool) -> None:
    """Create a user who can sign in on the activation page.

    \b
    Example:
      echo 's3cret-pass' | ckrv admin user add ada@example.com --password-stdin
    """
    from ckrv.server.admin import add_user

    password = _read_password(password_stdin)
    user_id = add_user(_data_dir(ctx), email, name, tier, password)
    click.echo(f"created user {email} ({tier}), id {user_id}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List users with their tier and quota.

    \b
    Example:
      ckrv admin user list --json
    """
    from ckrv.server.admin import list_users

    users = list_users(_data_dir(ctx))
    if as_json:
        emit_json(users)
        return
    rows = [
        [
            u["email"],
            u["name"],
            u["subscription_tier"],
            str(u["job_quota_remaining"]),
            u["billing_cycle_end"][:10],
        ]
        for u in users
    ]
    click.echo(table(rows, ["email", "name", "tier", "jobs left", "cycle ends"]))


@user.command("set-tier")
@click.argument("email")
@click.argument("tier", type=click.Choice(["free", "pro", "enterprise"]))
@click.pass_context
def user_set_tier(ctx: click.Context, email: str, tier: str) -> None:
    """Change a user's subscription tier.

    \b
    Example:
      ckrv admin user set-tier ada@example.com pro
    """
    from ckrv.server.admin import set_tier

    set_tier(_data_dir(ctx), email, tier)
    click.echo(f"{email} is now on the {tier} tier")


@admin.group()
def device() -> None:
    """Approve a pending device login from the server's shell.

    \b
    Example:
      ckrv admin device approve WDJB-MJHT --email ada@example.com
    """


@device.command("approve")
@click.argument("user_code")
@click.option("--email", required=True, help="The user the device signs in as.")
@click.pass_context
def device_approve(ctx: click.Context, user_code: str, email: str) -> None:
    """Approve the login showing USER_CODE, as the user EMAIL.

    \b
    Example:
      ckrv admin device approve WDJB-MJHT --email ada@example.com
    """
    from ckrv.server.admin import approve_device

    approve_device(_data_dir(ctx), user_code, email)
    click.echo(f"approved; the waiting `ckrv cloud login` signs in as {email}")


@admin.group()
def token() -> None:
    """Create, list and revoke long-lived API tokens (for CI).

    \b
    Example:
      export CKRV_TOKEN=$(ckrv admin token create ci@example.com --expires 30d)
      ckrv admin token list
    """


@token.command("create")
@click.argument("email")
@click.option(
    "--expires", default="90d", show_default=True, help="Lifetime, e.g. 30d; `never` for none."
)
@click.pass_context
def token_create(ctx: click.Context, email: str, expires: str) -> None:
    """Print a new API token for EMAIL (the token alone on stdout). Use it as CKRV_TOKEN.

    \b
    Example:
      export CKRV_TOKEN=$(ckrv admin token create ci@example.com --expires 30d)
    """
    from ckrv.server.admin import create_token

    ttl = None if expires == "never" else parse_duration(expires)
    token_id, value = create_token(_data_dir(ctx), email, ttl)
    click.echo(value)
    click.echo(f"token id {token_id}; revoke with: ckrv admin token revoke {token_id}", err=True)


@token.command("list")
@click.option("--email", help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def token_list(ctx: click.Context, email: str | None, as_json: bool) -> None:
    """List API tokens (ids and dates; never the tokens themselves).

    \b
    Example:
      ckrv admin token list --email ci@example.com
    """
    from ckrv.server.admin import list_tokens

    tokens = list_tokens(_data_dir(ctx), email)
    if as_json:
        emit_json(tokens)
        return
    rows = [
        [
            t["id"],
            t["email"],
            t["created_at"][:19],
            (t["expires_at"] or "never")[:19],
            "revoked" if t["revoked_at"] else "active",
        ]
        for t in tokens
    ]
    click.echo(table(rows, ["id", "email", "created", "expires", "state"]))


@token.command("revoke")
@click.argument("token_id")
@click.pass_context
def token_revoke(ctx: click.Context, token_id: str) -> None:
    """Revoke the API token with TOKEN_ID.

    \b
    Example:
      ckrv admin token revoke 3f2a9c0d1b2e
    """
    from ckrv.server.admin import revoke_token

    revoke_token(_data_dir(ctx), token_id)
    click.echo(f"revoked {token_id}")


@admin.command("rotate-key")
@click.pass_context
def rotate_key(ctx: click.Context) -> None:
    """Re-encrypt every credential and secret under a new master key, then drop the old key.

    Safe while the server runs: it picks up the new key by itself.

    \b
    Example:
      ckrv admin --data-dir /srv/ckrv rotate-key
    """
    from ckrv.server.vault.rotation import rotate_master_key

    done = rotate_master_key(_data_dir(ctx))
    dropped = ", ".join(str(v) for v in done.dropped_versions)
    click.echo(
        f"re-encrypted {done.credentials} credentials and {done.secrets} secrets under "
        f"master key version {done.new_version}; removed version(s) {dropped}"
    )
