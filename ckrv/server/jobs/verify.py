"""The verify gate of a job: its own `verify` commands and `fix_rounds` (checked at creation),
and the commands its worker runs (settled at dispatch: the job's own, else the first matching
`[repositories."URL-PATTERN"]` table's; with neither the worker runs the agent's `verify`)."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from typing import Any

from ckrv.errors import InvalidRequest
from ckrv.server.jobs.public import JobRow
from ckrv.settings import Settings

MAX_COMMANDS = 20
MAX_COMMAND_BYTES = 4096


def job_verify(settings: Settings, body: Mapping[str, Any]) -> tuple[str | None, int]:
    """The job's own verify commands as JSON (None: not given) and its fix rounds."""
    raw = body.get("verify")
    commands = None
    if raw is not None:
        if (
            not isinstance(raw, list)
            or not 1 <= len(raw) <= MAX_COMMANDS
            or not all(isinstance(c, str) and c.strip() for c in raw)
            or any(len(c.encode()) > MAX_COMMAND_BYTES for c in raw)
        ):
            raise InvalidRequest(
                f"verify must be a list of 1 to {MAX_COMMANDS} non-empty shell commands of at "
                f"most {MAX_COMMAND_BYTES} bytes each"
            )
        commands = json.dumps(raw)
    rounds = body.get("fix_rounds", 0)
    if rounds is None:
        rounds = 0
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise InvalidRequest("fix_rounds must be a whole number, 0 or more")
    if rounds > settings.max_fix_rounds:
        raise InvalidRequest(
            f"fix_rounds {rounds} is over this server's max_fix_rounds ({settings.max_fix_rounds})"
        )
    return commands, rounds


def settled_verify(row: JobRow, settings: Settings) -> tuple[str, ...]:
    """The shell commands the job's worker runs after the agent: the job's own, else its
    repository's (the first matching table); empty: the agent's `verify`, if any."""
    if row["verify"]:
        return tuple(str(c) for c in json.loads(row["verify"]))
    for pattern, commands in settings.repository_verify.items():
        if fnmatch.fnmatchcase(row["git_repo_url"], pattern):
            return commands
    return ()
