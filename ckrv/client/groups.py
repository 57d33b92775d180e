"""Client-side group operations: creating a best-of-N group, reading and cancelling it, waiting
for its attempts, and choosing the attempt a command acts on (the server's pick, or one the user
names). A group id is `g-` and eight letters or digits; a job id is hexadecimal."""

from __future__ import annotations

from typing import Any

from ckrv.client.api import Api
from ckrv.client.jobs import JobCallback, JobRequest, create_job, find_job, wait_for_job
from ckrv.contracts.jobmodel import TERMINAL, short_id
from ckrv.errors import CkrvError, NotFound, UsageError


def is_group_id(text: str) -> bool:
    return text.strip().lower().startswith("g-")


def group_body(
    request: JobRequest, attempts: int | None, agents: tuple[str, ...]
) -> dict[str, Any]:
    body = request.body()
    if agents:
        body.pop("agent", None)
        body["agents"] = list(agents)
    if attempts is not None:
        body["attempts"] = attempts
    return body


def create_group(
    api: Api, request: JobRequest, attempts: int | None, agents: tuple[str, ...]
) -> dict[str, Any]:
    """Queue the group; its quota, credential and unreachable-server errors read as a job's."""
    return create_job(api, request, path="/groups", body=group_body(request, attempts, agents))


def get_group(api: Api, group_id: str) -> dict[str, Any]:
    group_id = group_id.strip().lower()
    try:
        return api.get(f"/groups/{group_id}")  # type: ignore[no-any-return]
    except NotFound as exc:
        raise NotFound(
            f"no group {group_id}", hint="`ckrv run --cloud --attempts N` prints a group's id"
        ) from exc


def cancel_group(api: Api, group_id: str) -> dict[str, Any]:
    return api.post(f"/groups/{group_id.strip().lower()}/cancel")  # type: ignore[no-any-return]


def wait_for_group(
    api: Api, group: dict[str, Any], on_change: JobCallback | None = None
) -> dict[str, Any]:
    """Block until every attempt has ended (each followed on its own stream, no polling) and
    return the group as it then is, ranked."""
    for attempt in group["attempts"]:
        if attempt["status"] not in TERMINAL:
            wait_for_job(api, attempt["job_id"], on_change=on_change)
    return get_group(api, group["id"])


def chosen_attempt(group: dict[str, Any], attempt: int | None = None) -> dict[str, Any]:
    """The Job of attempt `attempt`, or of the group's pick; errors say what to do instead."""
    gid = group["id"]
    numbers = [a["attempt"] for a in group["attempts"]]
    if attempt is not None:
        for candidate in group["attempts"]:
            if candidate["attempt"] == attempt:
                return dict(candidate["job"])
        raise UsageError(
            f"group {gid} has no attempt {attempt}; its attempts are {_listing(numbers)}"
        )
    if group["pick"] is not None:
        return chosen_attempt(group, group["pick"])
    going = [a for a in group["attempts"] if a["status"] not in TERMINAL]
    if going:
        raise CkrvError(
            f"group {gid} has {len(going)} attempt(s) still going; its pick is made once all end",
            hint=f"wait with `ckrv compare {gid} --wait`, or take one now: "
            f"`ckrv pull {gid} --attempt K`",
        )
    raise CkrvError(
        f"no attempt of group {gid} succeeded without failing its verify; nothing to pick",
        hint=f"see why with `ckrv compare {gid}`; take one anyway: `ckrv pull {gid} --attempt K`",
    )


def _listing(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def find_target(api: Api, text: str, attempt: int | None) -> dict[str, Any]:
    """The job a command acts on: a job by id or prefix, or a group's pick or `attempt`."""
    if is_group_id(text):
        return chosen_attempt(get_group(api, text), attempt)
    if attempt is not None:
        raise UsageError(
            f"--attempt chooses an attempt of a group; {text} is a job id ({short_id(text)})"
        )
    return find_job(api, text)
