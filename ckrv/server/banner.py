"""What `ckrv serve` says when it starts: where the API, the sign-in page and the API reference
are, where its data is, how jobs are confined, and how to make the first user when there is
none. As text for people, or (`log_format = "json"`) as one `server.started` record, so a log
collector reads nothing but JSON."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import sys

from ckrv.server import serverlog
from ckrv.server.identity.users import count_users
from ckrv.server.services import Services


def _user_count(services: Services) -> int:
    with contextlib.closing(sqlite3.connect(services.db.path)) as conn:
        return count_users(conn)


def first_user_hint(services: Services) -> str | None:
    if _user_count(services):
        return None
    data_dir = services.settings.data_dir
    return f"ckrv admin --data-dir {data_dir} user add EMAIL --name NAME"


def say_banner(services: Services, listening: str) -> None:
    settings = services.settings
    base = settings.base_url
    confinement = services.confinement
    sandbox = str(confinement.details()["sandbox"]) if confinement is not None else None
    warnings = confinement.banner() if confinement is not None else []
    first_user = first_user_hint(services)
    if settings.log_format == "json":
        serverlog.event(
            serverlog.server,
            "server.started",
            f"ckrv server listening on {listening}",
            url=listening,
            api_url=settings.api_url,
            activate_url=f"{base}/activate",
            docs_url=f"{base}/docs",
            data_dir=str(settings.data_dir),
            executor=settings.executor,
            sandbox=sandbox,
            first_user=first_user,
        )
        for line in warnings:
            serverlog.event(
                serverlog.server,
                "server.unconfined",
                line.removeprefix("WARNING: "),
                logging.WARNING,
            )
        return
    lines = [
        f"ckrv server listening on {listening}",
        f"  API:      {settings.api_url}   (for `ckrv --api-url` / CHAKRAVARTI_API_URL)",
        f"  sign in:  {base}/activate   (where `ckrv cloud login` sends you)",
        f"  docs:     {base}/docs",
        f"  data:     {settings.data_dir}",
        f"  executor: {settings.executor}",
    ]
    if sandbox is not None:
        lines.append(f"  sandbox:  {sandbox}")
    if first_user is not None:
        lines.append(f"  no users yet; create the first: {first_user}")
    print("\n".join(lines), flush=True)
    for line in warnings:
        print(line, file=sys.stderr, flush=True)
