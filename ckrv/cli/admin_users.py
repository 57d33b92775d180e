"""`ckrv admin user` commands that change an existing user: set-admin, disable, enable,
reset-password and remove (add, list and set-tier are in admin.py). Each: an options object,
a run function, and its click command; `attach` adds them to the `user` group."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from ckrv.cli.context import data_dir, streams
from ckrv.cli.iostreams import IOStreams

MIN_PASSWORD = 8


def read_password(io: IOStreams, from_stdin: bool) -> str:
    """A new password, from stdin or typed twice; a short one is refused at the first prompt."""
    if from_stdin:
        password = io.stdin.readline().rstrip("\r\n")
        _check_length(password)
        return password
    password = click.prompt("Password", hide_input=True)
    _check_length(password)
    if click.prompt("Repeat for confirmation", hide_input=True) != password:
        raise click.UsageError("the two passwords differ")
    return password


def _check_length(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise click.UsageError(f"the password must be at least {MIN_PASSWORD} characters")


@dataclass(frozen=True)
class SetAdminOptions:
    data_dir: Path
    email: str
    admin: bool = True


def run_set_admin(opts: SetAdminOptions, io: IOStreams) -> None:
    from ckrv.server.admin import set_admin

    set_admin(opts.data_dir, opts.email, opts.admin)
    io.out(f"{opts.email} is {'now' if opts.admin else 'no longer'} an administrator")


@click.command("set-admin")
@click.argument("email")
@click.option("--off", is_flag=True, help="Take the administrator role away instead.")
def user_set_admin(email: str, off: bool) -> None:
    """Make EMAIL an administrator (the dashboard's /admin page), or with --off no longer.

    \b
    Example:
      ckrv admin user set-admin ada@example.com
      ckrv admin user set-admin ada@example.com --off
    """
    run_set_admin(SetAdminOptions(data_dir(), email, not off), streams())


@dataclass(frozen=True)
class SetDisabledOptions:
    data_dir: Path
    email: str
    disabled: bool


def run_set_disabled(opts: SetDisabledOptions, io: IOStreams) -> None:
    from ckrv.server.admin import set_disabled

    set_disabled(opts.data_dir, opts.email, opts.disabled)
    if opts.disabled:
        io.out(
            f"disabled {opts.email}: it cannot sign in, and its tokens and sessions are refused"
            " until `ckrv admin user enable`; its jobs are kept (queued ones still run)"
        )
    else:
        io.out(f"enabled {opts.email}: its tokens and sessions work again")


@click.command("disable")
@click.argument("email")
def user_disable(email: str) -> None:
    """Disable EMAIL: no sign-in, and every token and session of it refused (403).

    Nothing is deleted; `enable` undoes it. Revoke its API tokens too if they leaked.

    \b
    Example:
      ckrv admin user disable mallory@example.com
    """
    run_set_disabled(SetDisabledOptions(data_dir(), email, True), streams())


@click.command("enable")
@click.argument("email")
def user_enable(email: str) -> None:
    """Enable EMAIL again after `disable`.

    \b
    Example:
      ckrv admin user enable mallory@example.com
    """
    run_set_disabled(SetDisabledOptions(data_dir(), email, False), streams())


@dataclass(frozen=True)
class ResetPasswordOptions:
    data_dir: Path
    email: str
    password_stdin: bool = False


def run_reset_password(opts: ResetPasswordOptions, io: IOStreams) -> None:
    from ckrv.server.admin import require_data_dir, reset_password_in

    require_data_dir(opts.data_dir)
    reset_password_in(opts.data_dir, opts.email, read_password(io, opts.password_stdin))
    io.out(
        f"new password set for {opts.email}; its browser sessions and CLI logins were ended"
        " (API tokens stay: see `ckrv admin token list`)"
    )


@click.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_reset_password(email: str, password_stdin: bool) -> None:
    """Give EMAIL a new password; ends its browser sessions and CLI logins.

    \b
    Example:
      ckrv admin user reset-password ada@example.com
      echo "$PASSWORD" | ckrv admin user reset-password ada@example.com --password-stdin
    """
    run_reset_password(ResetPasswordOptions(data_dir(), email, password_stdin), streams())


@dataclass(frozen=True)
class RemoveOptions:
    data_dir: Path
    email: str


def run_remove(opts: RemoveOptions, io: IOStreams) -> None:
    from ckrv.server.admin import remove_user_in

    jobs = remove_user_in(opts.data_dir, opts.email)
    io.out(
        f"removed {opts.email} with {jobs} job(s) (logs and diffs), its credentials, secrets,"
        " API tokens, logins and sessions"
    )


@click.command("remove")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def user_remove(email: str, yes: bool) -> None:
    """Delete EMAIL and everything that is theirs, for good.

    Deletes their jobs with logs and diffs, credentials, secrets, API tokens, logins and
    sessions. Refused while one of their jobs is queued or running (cancel it first). To keep
    their history, `disable` them instead.

    \b
    Example:
      ckrv admin user remove mallory@example.com --yes
    """
    if not yes:
        click.confirm(f"Delete {email} and all their jobs, credentials and secrets?", abort=True)
    run_remove(RemoveOptions(data_dir(), email), streams())


def attach(group: click.Group) -> None:
    for command in (
        user_set_admin,
        user_disable,
        user_enable,
        user_reset_password,
        user_remove,
    ):
        group.add_command(command)
