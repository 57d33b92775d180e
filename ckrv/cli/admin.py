"""`ckrv admin`: users, device approval and key rotation, on the data dir (API tokens are in
admin_tokens.py). Each command: an options object, a run function, and its click command."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from ckrv.cli import admin_users as user_commands
from ckrv.cli.admin_tokens import token
from ckrv.cli.admin_users import read_password
from ckrv.cli.context import AdminTarget, data_dir, streams
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.output import table
from ckrv.paths import default_data_dir

TIERS = ["free", "pro", "enterprise"]


@click.group()
@click.option(
    "--data-dir",
    "data_dir_option",
    type=click.Path(path_type=Path),
    envvar="CKRV_DATA_DIR",
    help="The server's data dir [env CKRV_DATA_DIR].",
)
@click.pass_context
def admin(ctx: click.Context, data_dir_option: Path | None) -> None:
    """Manage users, API tokens and keys directly in a server's data dir.

    Works whether or not the server is running.

    \b
    Example:
      ckrv admin --data-dir /srv/ckrv user add ada@example.com --name Ada --tier pro
    """
    ctx.obj = AdminTarget(data_dir_option or default_data_dir())


admin.add_command(token)


@dataclass(frozen=True)
class InitOptions:
    data_dir: Path


def run_init(opts: InitOptions, io: IOStreams) -> None:
    from ckrv.server.admin import init_data_dir

    if init_data_dir(opts.data_dir):
        io.out(f"created the data dir {opts.data_dir} (database and keys)")
    else:
        io.out(f"{opts.data_dir} already holds a data dir; nothing changed")


@admin.command("init")
def init() -> None:
    """Create a new data dir (database, token-signing key, encryption keys).

    The other admin commands refuse a path that holds no data dir, so that a typo in
    --data-dir is an error, not a new empty server. `ckrv serve` creates one too.

    \b
    Example:
      ckrv admin --data-dir /srv/ckrv init
    """
    run_init(InitOptions(data_dir()), streams())


@admin.group()
def user() -> None:
    """Add, list, change, disable and remove users.

    \b
    Example:
      ckrv admin user add ada@example.com --name Ada --tier pro
      ckrv admin user list
    """


user_commands.attach(user)


@dataclass(frozen=True)
class UserAddOptions:
    data_dir: Path
    email: str
    name: str = ""
    tier: str = "free"
    password_stdin: bool = False
    admin: bool = False


def run_user_add(opts: UserAddOptions, io: IOStreams) -> None:
    from ckrv.server.admin import add_user, require_data_dir

    require_data_dir(opts.data_dir)  # before asking for a password
    password = read_password(io, opts.password_stdin)
    user_id = add_user(opts.data_dir, opts.email, opts.name, opts.tier, password, opts.admin)
    role = ", administrator" if opts.admin else ""
    io.out(f"created user {opts.email} ({opts.tier}{role}), id {user_id}")


@user.command("add")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option(
    "--tier",
    type=click.Choice(TIERS),
    default="free",
    show_default=True,
    help="Jobs per month: free 10, pro 100, enterprise 1000.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--admin", "is_admin", is_flag=True, help="Make the user an administrator (/admin).")
def user_add(email: str, name: str, tier: str, password_stdin: bool, is_admin: bool) -> None:
    """Create a user who can sign in on the activation page and the dashboard.

    \b
    Example:
      echo 's3cret-pass' | ckrv admin user add ada@example.com --password-stdin
      ckrv admin user add root@example.com --admin
    """
    run_user_add(UserAddOptions(data_dir(), email, name, tier, password_stdin, is_admin), streams())


@dataclass(frozen=True)
class UserListOptions:
    data_dir: Path
    as_json: bool = False


def run_user_list(opts: UserListOptions, io: IOStreams) -> None:
    from ckrv.server.admin import list_users

    users = list_users(opts.data_dir)
    if opts.as_json:
        io.json(users)
        return
    rows = [
        [
            u["email"],
            u["name"] or "",
            u["subscription_tier"],
            str(u["job_quota_remaining"]),
            u["billing_cycle_end"][:10],
            "admin" if u["admin"] else "",
            "disabled" if u["disabled_at"] else "active",
        ]
        for u in users
    ]
    io.out(table(rows, ["email", "name", "tier", "jobs left", "cycle ends", "role", "state"]))


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def user_list(as_json: bool) -> None:
    """List users with their tier, quota, role and state.

    \b
    Example:
      ckrv admin user list --json
    """
    run_user_list(UserListOptions(data_dir(), as_json), streams())


@dataclass(frozen=True)
class SetTierOptions:
    data_dir: Path
    email: str
    tier: str


def run_set_tier(opts: SetTierOptions, io: IOStreams) -> None:
    from ckrv.server.admin import set_tier

    set_tier(opts.data_dir, opts.email, opts.tier)
    io.out(f"{opts.email} is now on the {opts.tier} tier")


@user.command("set-tier")
@click.argument("email")
@click.argument("tier", type=click.Choice(TIERS))
def user_set_tier(email: str, tier: str) -> None:
    """Change a user's subscription tier.

    \b
    Example:
      ckrv admin user set-tier ada@example.com pro
    """
    run_set_tier(SetTierOptions(data_dir(), email, tier), streams())


@admin.group()
def device() -> None:
    """Approve a pending device login from the server's shell.

    \b
    Example:
      ckrv admin device approve WDJB-MJHT --email ada@example.com
    """


@dataclass(frozen=True)
class ApproveOptions:
    data_dir: Path
    user_code: str
    email: str


def run_approve(opts: ApproveOptions, io: IOStreams) -> None:
    from ckrv.server.admin import approve_device

    approve_device(opts.data_dir, opts.user_code, opts.email)
    io.out(f"approved; the waiting `ckrv cloud login` signs in as {opts.email}")


@device.command("approve")
@click.argument("user_code")
@click.option("--email", required=True, help="The user the device signs in as.")
def device_approve(user_code: str, email: str) -> None:
    """Approve the login showing USER_CODE, as the user EMAIL.

    \b
    Example:
      ckrv admin device approve WDJB-MJHT --email ada@example.com
    """
    run_approve(ApproveOptions(data_dir(), user_code, email), streams())


@dataclass(frozen=True)
class RotateKeyOptions:
    data_dir: Path


def run_rotate_key(opts: RotateKeyOptions, io: IOStreams) -> None:
    from ckrv.server.vault.rotation import rotate_master_key

    done = rotate_master_key(opts.data_dir)
    dropped = ", ".join(str(v) for v in done.dropped_versions)
    io.out(
        f"re-encrypted {done.credentials} credentials and {done.secrets} secrets under "
        f"master key version {done.new_version}; removed version(s) {dropped}"
    )


@admin.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every credential and secret under a new master key, then drop the old key.

    Safe while the server runs: it picks up the new key by itself.

    \b
    Example:
      ckrv admin --data-dir /srv/ckrv rotate-key
    """
    run_rotate_key(RotateKeyOptions(data_dir()), streams())
