"""`ckrv cloud`: login, logout, whoami; credentials and secrets live in their own modules."""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from typing import Any

import click

from ckrv.cli.context import api_url, streams
from ckrv.cli.iostreams import IOStreams
from ckrv.cli.lazy import LazyGroup
from ckrv.errors import CkrvError

SUBGROUPS = {
    "login": ("ckrv.cli.cloud:login", "Log in to the server with the device flow."),
    "logout": ("ckrv.cli.cloud:logout", "Revoke this machine's login and forget its tokens."),
    "whoami": ("ckrv.cli.cloud:whoami", "Show who you are logged in as, and your quota."),
    "credentials": (
        "ckrv.cli.credentials:credentials",
        "Git credentials for private repositories.",
    ),
    "secrets": ("ckrv.cli.secrets:secrets", "Secrets (e.g. API keys) given to your jobs' agents."),
}


@click.group(cls=LazyGroup, lazy=SUBGROUPS)
def cloud() -> None:
    """Log in to a ckrv server and manage what your jobs may use.

    \b
    Example:
      ckrv cloud login --no-browser
      ckrv cloud whoami
    """


def _can_open_browser(io: IOStreams) -> bool:
    return sys.platform == "darwin" or bool(io.env.get("DISPLAY") or io.env.get("WAYLAND_DISPLAY"))


@dataclass(frozen=True)
class LoginOptions:
    api_url: str
    no_browser: bool = False


def run_login(opts: LoginOptions, io: IOStreams) -> None:
    from ckrv.client import login as device_login
    from ckrv.client.api import Api
    from ckrv.client.session import Session

    with Api(opts.api_url) as api:
        grant = device_login.start(api)
        io.out(
            f"Open {io.paint(grant.verification_uri, 'cyan')} and enter the code "
            f"{io.paint(grant.user_code, 'green', bold=True)}"
        )
        io.out(f"(or go straight to {grant.verification_uri_complete})")
        if not opts.no_browser and _can_open_browser(io):
            import webbrowser

            webbrowser.open(grant.verification_uri_complete)
        spinner = itertools.cycle("|/-\\")
        interactive = io.stderr_is_tty

        def tick() -> None:
            if interactive:
                io.err(f"\rWaiting for approval {next(spinner)}", nl=False)

        tokens = device_login.wait_for_tokens(api, grant, tick=tick)
        if interactive:
            io.err("\r" + " " * 30 + "\r", nl=False)
    session = Session(opts.api_url)
    session.store.save(opts.api_url, tokens)
    with session.api() as api:
        profile = api.get("/users/me")
    io.out(
        f"Logged in to {opts.api_url} as {profile['email']} ({profile['subscription_tier']} "
        f"tier, {profile['job_quota_remaining']} jobs left this cycle)"
    )


@click.command()
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
def login(no_browser: bool) -> None:
    """Log in with the OAuth2 device flow: approve the code in a browser.

    \b
    Example:
      ckrv --api-url https://ckrv.example.com/v1 cloud login
    """
    run_login(LoginOptions(api_url(), no_browser), streams())


@dataclass(frozen=True)
class LogoutOptions:
    api_url: str


def run_logout(opts: LogoutOptions, io: IOStreams) -> None:
    from ckrv.client.api import Api
    from ckrv.client.tokenstore import TokenStore

    store = TokenStore()
    tokens = store.load(opts.api_url)
    if tokens is None:
        io.out(f"not logged in to {opts.api_url}")
        return
    try:
        with Api(opts.api_url) as api:
            api.post("/auth/revoke", {"token": tokens.refresh_token})
    except CkrvError as exc:
        store.delete(opts.api_url)
        # keep the error's class, so an unreachable server still exits 6
        exc.message = (
            f"forgot the local tokens, but the server did not confirm the revocation: {exc.message}"
        )
        raise
    store.delete(opts.api_url)
    io.out(f"logged out of {opts.api_url}")


@click.command()
def logout() -> None:
    """Revoke this machine's login on the server and forget its tokens.

    \b
    Example:
      ckrv cloud logout
    """
    run_logout(LogoutOptions(api_url()), streams())


def _profile_lines(profile: dict[str, Any], api_url: str) -> list[str]:
    return [
        f"{'email:':<15}{profile['email']}",
        f"{'name:':<15}{profile.get('name') or '-'}",
        f"{'tier:':<15}{profile['subscription_tier']}",
        f"{'jobs left:':<15}{profile['job_quota_remaining']}",
        f"{'cycle ends:':<15}{profile['billing_cycle_end']}",
        f"{'server:':<15}{api_url}",
    ]


@dataclass(frozen=True)
class WhoamiOptions:
    api_url: str
    as_json: bool = False


def run_whoami(opts: WhoamiOptions, io: IOStreams) -> None:
    from ckrv.client.session import Session

    with Session(opts.api_url).api() as api:
        profile = api.get("/users/me")
    if opts.as_json:
        io.json({**profile, "server": opts.api_url})
    else:
        io.out("\n".join(_profile_lines(profile, opts.api_url)))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the user profile as JSON.")
def whoami(as_json: bool) -> None:
    """Show the logged-in user: email, name, tier, jobs remaining, cycle end and server.

    \b
    Example:
      ckrv cloud whoami --json
    """
    run_whoami(WhoamiOptions(api_url(), as_json), streams())
