"""`ckrv cloud`: login, logout, whoami; credentials and secrets live in their own modules."""

from __future__ import annotations

import itertools
import os
import sys
from typing import Any

import click

from ckrv.cli.context import api_url as current_api_url
from ckrv.cli.lazy import LazyGroup
from ckrv.cli.output import emit_json, paint
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


def _can_open_browser() -> bool:
    return sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


@click.command()
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
def login(no_browser: bool) -> None:
    """Log in with the OAuth2 device flow: approve the code in a browser.

    \b
    Example:
      ckrv --api-url https://ckrv.example.com/v1 cloud login
    """
    from ckrv.client import login as device_login
    from ckrv.client.api import Api
    from ckrv.client.session import Session

    api_url = current_api_url()
    with Api(api_url) as api:
        grant = device_login.start(api)
        click.echo(
            f"Open {paint(grant.verification_uri, 'cyan')} and enter the code "
            f"{paint(grant.user_code, 'green', bold=True)}"
        )
        click.echo(f"(or go straight to {grant.verification_uri_complete})")
        if not no_browser and _can_open_browser():
            import webbrowser

            webbrowser.open(grant.verification_uri_complete)
        spinner = itertools.cycle("|/-\\")
        interactive = sys.stderr.isatty()

        def tick() -> None:
            if interactive:
                click.echo(f"\rWaiting for approval {next(spinner)}", nl=False, err=True)

        tokens = device_login.wait_for_tokens(api, grant, tick=tick)
        if interactive:
            click.echo("\r" + " " * 30 + "\r", nl=False, err=True)
    session = Session(api_url)
    session.store.save(api_url, tokens)
    with session.api() as api:
        profile = api.get("/users/me")
    click.echo(
        f"Logged in to {api_url} as {profile['email']} ({profile['subscription_tier']} tier, "
        f"{profile['job_quota_remaining']} jobs left this cycle)"
    )


@click.command()
def logout() -> None:
    """Revoke this machine's login on the server and forget its tokens.

    \b
    Example:
      ckrv cloud logout
    """
    from ckrv.client.api import Api
    from ckrv.client.tokenstore import TokenStore

    api_url = current_api_url()
    store = TokenStore()
    tokens = store.load(api_url)
    if tokens is None:
        click.echo(f"not logged in to {api_url}")
        return
    try:
        with Api(api_url) as api:
            api.post("/auth/revoke", {"token": tokens.refresh_token})
    except CkrvError as exc:
        store.delete(api_url)
        # keep the error's class, so an unreachable server still exits 6
        exc.message = (
            f"forgot the local tokens, but the server did not confirm the revocation: {exc.message}"
        )
        raise
    store.delete(api_url)
    click.echo(f"logged out of {api_url}")


def _profile_lines(profile: dict[str, Any], api_url: str) -> list[str]:
    return [
        f"{'email:':<15}{profile['email']}",
        f"{'name:':<15}{profile.get('name') or '-'}",
        f"{'tier:':<15}{profile['subscription_tier']}",
        f"{'jobs left:':<15}{profile['job_quota_remaining']}",
        f"{'cycle ends:':<15}{profile['billing_cycle_end']}",
        f"{'server:':<15}{api_url}",
    ]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the user profile as JSON.")
def whoami(as_json: bool) -> None:
    """Show the logged-in user: email, name, tier, jobs remaining, cycle end and server.

    \b
    Example:
      ckrv cloud whoami --json
    """
    from ckrv.client.session import Session

    api_url = current_api_url()
    with Session(api_url).api() as api:
        profile = api.get("/users/me")
    if as_json:
        emit_json({**profile, "server": api_url})
    else:
        click.echo("\n".join(_profile_lines(profile, api_url)))
