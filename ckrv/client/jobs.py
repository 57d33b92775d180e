"""Client-side job operations shared by the commands: resolving short ids, fetching, waiting."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ckrv.client.api import Api
from ckrv.errors import NotFound, UsageError

MIN_PREFIX = 8
TERMINAL = ("succeeded", "failed", "timeout", "cancelled")
_HEX = re.compile(r"^[0-9a-fA-F-]+$")


def resolve_job_id(api: Api, text: str) -> str:
    """A full job id from a full id or a unique prefix of at least 8 characters."""
    text = text.strip().lower()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    if not _HEX.match(text):
        raise UsageError(f"{text!r} is not a job id: use the id `ckrv jobs` shows")
    if len(text) < MIN_PREFIX:
        raise UsageError(f"job id prefix {text!r} is too short: give at least {MIN_PREFIX} characters")
    matches = api.get("/jobs", params={"id_prefix": text, "limit": 10})["jobs"]
    if not matches:
        raise NotFound(f"no job whose id starts with {text}", hint="list your jobs with `ckrv jobs`")
    if len(matches) > 1:
        listing = "\n".join(f"  {j['id']}  {j['status']:<9}  {j.get('spec_title', '')}" for j in matches)
        raise UsageError(f"job id prefix {text} is ambiguous; it matches:\n{listing}")
    return str(matches[0]["id"])


def get_job(api: Api, job_id: str) -> dict[str, Any]:
    return api.get(f"/jobs/{job_id}")  # type: ignore[no-any-return]
