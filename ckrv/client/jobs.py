"""Client-side job operations shared by the commands: resolving short ids, creating, listing,
cancelling, fetching diffs, and waiting for a job to end. Server errors that need more than the
generic translation (quota, unreachable, unknown credential) get their user-facing wording here,
not in the commands."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ckrv.client.api import Api
from ckrv.contracts.jobmodel import SHORT_ID, TERMINAL, short_id
from ckrv.errors import (
    CkrvError,
    CredentialNotFound,
    JobUnsuccessful,
    NotFound,
    QuotaExceeded,
    ServerUnreachable,
    Unverified,
    UsageError,
)
from ckrv.timeutil import parse_iso, relative

PAGE_LIMIT = 100
_HEX = re.compile(r"^[0-9a-fA-F-]+$")

JobCallback = Callable[[dict[str, Any]], None]


def local_time(text: str | None) -> str:
    """An API timestamp in the user's local zone, with how long ago (or until) it is."""
    moment = parse_iso(text)
    if moment is None:
        return "-"
    stamp = moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").rstrip()
    return f"{relative(moment)} ({stamp})"


def resolve_job_id(api: Api, text: str) -> str:
    """A full job id from a full id or a unique prefix of at least 8 characters."""
    found = _lookup(api, text)
    return found if isinstance(found, str) else str(found["id"])


def find_job(api: Api, text: str) -> dict[str, Any]:
    """The job named by a full id or a unique prefix: one request either way."""
    found = _lookup(api, text)
    return get_job(api, found) if isinstance(found, str) else found


def _lookup(api: Api, text: str) -> str | dict[str, Any]:
    """A full id as given, or the one job a prefix matches (the listing already holds it)."""
    text = text.strip().lower()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    if not _HEX.match(text):
        raise UsageError(f"{text!r} is not a job id: use the id `ckrv jobs` shows")
    if len(text) < SHORT_ID:
        raise UsageError(
            f"job id prefix {text!r} is too short: give at least {SHORT_ID} characters"
        )
    matches = api.get("/jobs", params={"id_prefix": text, "limit": 10})["jobs"]
    if not matches:
        raise NotFound(
            f"no job whose id starts with {text}", hint="list your jobs with `ckrv jobs`"
        )
    if len(matches) > 1:
        listing = "\n".join(
            f"  {j['id']}  {j['status']:<9}  {j.get('spec_title', '')}" for j in matches
        )
        raise UsageError(f"job id prefix {text} is ambiguous; it matches:\n{listing}")
    return dict(matches[0])


def get_job(api: Api, job_id: str) -> dict[str, Any]:
    return api.get(f"/jobs/{job_id}")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class JobRequest:
    """What `POST /jobs` takes; None fields are left to the server's defaults."""

    spec_content: str
    git_repo_url: str
    git_base_branch: str | None = None
    agent: str | None = None
    credential: str | None = None
    setup: str | None = None
    timeout_seconds: float | None = None
    push: bool = False
    network: str | None = None  # open | allowlist | none
    allowed_hosts: tuple[str, ...] = ()
    # memory, cpu_time, processes, disk as the user wrote them (the server parses and checks)
    limits: tuple[tuple[str, str | int], ...] = ()
    verify: tuple[str, ...] = ()  # shell commands run after the agent
    fix_rounds: int | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "spec_content": self.spec_content,
            "git_repo_url": self.git_repo_url,
        }
        optional = {
            "git_base_branch": self.git_base_branch,
            "agent": self.agent,
            "git_credential_name": self.credential,
            "setup": self.setup,
            "timeout_seconds": self.timeout_seconds,
            "network": self.network,
            "allowed_hosts": list(self.allowed_hosts) or None,
            "limits": dict(self.limits) or None,
            "verify": list(self.verify) or None,
            "fix_rounds": self.fix_rounds,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        if self.push:
            body["push"] = True
        return body


def create_job(
    api: Api, request: JobRequest, *, path: str = "/jobs", body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Queue a job (or, with another `path` and `body`, a group of them: client/groups.py).
    Quota, unreachable-server and unknown-credential errors say what to do."""
    try:
        job: dict[str, Any] = api.post(path, request.body() if body is None else body)
    except QuotaExceeded as exc:
        raise quota_error(exc) from exc
    except ServerUnreachable as exc:
        raise ServerUnreachable(
            exc.message,
            hint="check that the server is up; or run the job on this machine without a "
            "server: drop --cloud (`ckrv run --spec FILE`)",
        ) from exc
    except CredentialNotFound as exc:
        if not exc.credentials:  # the message already says how to add a first one
            raise
        raise CredentialNotFound(
            exc.message, credentials=exc.credentials, hint="or add it: `ckrv cloud credentials add`"
        ) from exc
    return job


def quota_error(exc: QuotaExceeded) -> QuotaExceeded:
    """The 402 again, its hint saying when the quota resets in the user's own time."""
    hint = exc.hint or "wait for it, or ask the server's admin for a larger tier"
    if exc.resets_at:
        hint = f"it resets {_reset_time(exc.resets_at)}; {hint}"
    return QuotaExceeded(
        exc.message,
        resets_at=exc.resets_at,
        upgrade_url=exc.upgrade_url,
        hint=hint,
        jobs_needed=exc.jobs_needed,
        jobs_left=exc.jobs_left,
    )


def _reset_time(text: str) -> str:
    moment = parse_iso(text)
    if moment is None:
        return text
    stamp = moment.astimezone().strftime("%Y-%m-%d %H:%M %Z").rstrip()
    return f"on {stamp} ({relative(moment)})"


def list_jobs(
    api: Api, *, status: str | None = None, limit: int = 20, thread: str | None = None
) -> list[dict[str, Any]]:
    """Up to `limit` jobs (of the thread whose first job is `thread`), newest first, following
    the cursor across pages."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(found) < limit:
        params: dict[str, Any] = {"limit": min(PAGE_LIMIT, limit - len(found))}
        if status:
            params["status"] = status
        if thread:
            params["thread"] = thread
        if cursor:
            params["cursor"] = cursor
        page = api.get("/jobs", params=params)
        found.extend(page["jobs"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return found[:limit]


def cancel_job(api: Api, job_id: str) -> dict[str, Any]:
    return api.post(f"/jobs/{job_id}/cancel")  # type: ignore[no-any-return]


def fetch_diff(api: Api, job_id: str, *, delta: bool = False) -> bytes:
    """The job's diff: a follow-up's is its thread's whole change; `delta`: its own step."""
    return api.send("GET", f"/jobs/{job_id}/artifacts/{'delta' if delta else 'diff'}").content


def continue_job(api: Api, job_id: str, request: FollowUpRequest) -> dict[str, Any]:
    """Queue a follow-up of the job; a used-up quota says when it resets."""
    try:
        job: dict[str, Any] = api.post(f"/jobs/{job_id}/continue", request.body())
    except QuotaExceeded as exc:
        raise quota_error(exc) from exc
    return job


@dataclass(frozen=True)
class FollowUpRequest:
    """What `POST /jobs/{id}/continue` takes; None (or empty) fields are the parent's.
    no_verify / no_setup / network "" drop the parent's, leaving the server's default."""

    spec_content: str
    agent: str | None = None
    credential: str | None = None
    push: bool | None = None
    verify: tuple[str, ...] = ()
    fix_rounds: int | None = None
    timeout_seconds: float | None = None
    setup: str | None = None
    network: str | None = None  # open | allowlist | none, "": the server's
    allowed_hosts: tuple[str, ...] = ()
    # memory, cpu_time, processes, disk as the user wrote them: each replaces the parent's
    limits: tuple[tuple[str, str | int], ...] = ()
    no_verify: bool = False
    no_setup: bool = False

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"spec_content": self.spec_content}
        optional = {
            "agent": self.agent,
            "git_credential_name": self.credential,
            "push": self.push,
            "verify": [] if self.no_verify else list(self.verify) or None,
            "fix_rounds": self.fix_rounds,
            "timeout_seconds": self.timeout_seconds,
            "setup": "" if self.no_setup else self.setup,
            "network": self.network,
            "allowed_hosts": list(self.allowed_hosts) or None,
            "limits": dict(self.limits) or None,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body


def fetch_transcript(api: Api, job: dict[str, Any], run: int) -> bytes:
    runs = len(job.get("verify_transcripts") or ())
    if run >= runs:
        sid = short_id(job["id"])
        raise NotFound(
            f"job {sid} has {runs} verify transcript{'s' if runs != 1 else ''}"
            + (f" (0 to {runs - 1})" if runs else "")
        )
    return api.send("GET", f"/jobs/{job['id']}/artifacts/verify/{run}").content


def require_verified(job: dict[str, Any]) -> None:
    """Raise Unverified (exit 8) unless the job's result passed verify."""
    verified, sid = job.get("verified"), short_id(job["id"])
    if verified is True:
        return
    if verified is None:
        raise Unverified(
            f"job {sid} is not verified: no verify command ran",
            hint="run it with `--verify CMD` (or configure one), or pull without "
            "--require-verified",
        )
    rounds = job.get("rounds") or 0
    after = f" after {rounds} fix round{'s' if rounds != 1 else ''}" if rounds else ""
    raise Unverified(
        f"job {sid} is unverified: its verify failed{after}; nothing was pulled",
        hint=f"read why with `ckrv status {sid} --transcript "
        f"{max(len(job.get('verify_transcripts') or ()) - 1, 0)}`",
    )


def require_success(job: dict[str, Any], *, hint: str | None = None) -> None:
    """Raise JobUnsuccessful (exit 7) for an ended job that did not succeed, and a plain error
    for one that has not ended yet, each with its error and where to look next."""
    status, sid = job["status"], short_id(job["id"])
    if status == "succeeded":
        return
    if status not in TERMINAL:
        raise CkrvError(
            f"job {sid} is {status}; it has no result yet",
            hint=f"wait for it with `ckrv status {sid} --watch`, or follow `ckrv logs {sid} -f`",
        )
    reason = job.get("error_message") or job.get("result_summary") or ""
    raise JobUnsuccessful(
        f"job {sid} ended {status}" + (f": {reason}" if reason else ""),
        hint=hint or f"see what happened with `ckrv logs {sid}`",
    )


def wait_for_job(
    api: Api,
    job_id: str,
    *,
    on_change: JobCallback | None = None,
    on_log: JobCallback | None = None,
    tail: int | None = None,
) -> dict[str, Any]:
    """Block until the job ends and return it. Status and phase changes arrive as events on
    the job's log stream (no polling); `on_change` sees each, `on_log` each log entry (and the
    backlog only when it is given: all of it, or its last `tail` lines)."""
    from ckrv.client.logstream import LogEvent, follow

    for event in follow(api, job_id, tail=tail if on_log is not None else 0):
        if isinstance(event, LogEvent):
            if on_log is not None:
                on_log(event.as_dict())
            continue
        if on_change is not None:
            on_change(event.job)
        if event.final:
            return event.job
    return get_job(api, job_id)  # the stream ended without a final event: ask directly


def age(job: dict[str, Any], now: datetime | None = None) -> str:
    return relative(parse_iso(job.get("created_at")), now)
