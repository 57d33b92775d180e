"""A new job's request body, checked and settled into a store.NewJob: the spec, repository and
branch, the agent, setup, push, the job's network and limits options, its credential and
timeout. Shared by the routes that create jobs (one job, or a group of attempts)."""

from __future__ import annotations

from typing import Any

from ckrv.contracts.agents import available_agents
from ckrv.errors import CredentialNotFound, InvalidRequest, Unconfined, Unprocessable
from ckrv.server.identity.users import count_users
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.agents import choose_agent
from ckrv.server.jobs.limits import job_limits
from ckrv.server.jobs.network import stored_network
from ckrv.server.jobs.validation import MAX_SPEC_BYTES, check_branch, check_repo_url, check_spec
from ckrv.server.jobs.verify import job_verify
from ckrv.server.services import Services
from ckrv.server.vault.credential_rules import check_credential_fits
from ckrv.server.vault.store import find_credential, list_credentials
from ckrv.server.web.http import field
from ckrv.settings import Settings
from ckrv.timeutil import format_duration

_MAX_SETUP = 16 * 1024
# The body of a request that creates jobs (a job, a follow-up, a group): its spec, each byte up
# to six as a JSON escape (\u00XX), and room for the other fields.
MAX_CREATE_BODY = MAX_SPEC_BYTES * 6 + 65536
# The keys of POST /v1/jobs: the cloud API contract's JobCreate (its first four), then ours.
# Any other is refused (web/http.py), so a misspelt option is never run as its default.
JOB_FIELDS = frozenset(
    {
        "spec_content",
        "git_repo_url",
        "git_base_branch",
        "git_credential_name",
        "agent",
        "timeout_seconds",
        "setup",
        "push",
        "network",
        "allowed_hosts",
        "limits",
        "verify",
        "fix_rounds",
    }
)


def _credential(
    svc: Services, user_id: str, name: str | None, repo_url: str
) -> tuple[str | None, str | None]:
    if name is None:
        return None, None
    db = svc.db
    row = db.read_with(lambda c: find_credential(c, user_id, name))
    if row is None:
        names = [c["name"] for c in db.read_with(lambda c: list_credentials(c, user_id))]
        listing = (
            ", ".join(names) if names else "none yet; add one with `ckrv cloud credentials add`"
        )
        raise CredentialNotFound(
            f"no git credential named {name!r}; yours: {listing}", credentials=names
        )
    check_credential_fits(row["credential_type"], repo_url)
    return row["id"], name


def _timeout(settings: Settings, body: dict[str, Any]) -> float:
    raw = body.get("timeout_seconds")
    if raw is None:
        return settings.job_timeout
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise InvalidRequest("timeout_seconds must be a positive number")
    if raw > settings.max_job_timeout:
        longest = format_duration(settings.max_job_timeout)
        raise Unprocessable(
            f"timeout_seconds = {raw:g} ({format_duration(raw)}) is over this server's maximum "
            f"of {longest} (its max_job_timeout setting); ask for {longest} or less"
        )
    return float(raw)


def parse_new_job(svc: Services, user_id: str, body: dict[str, Any]) -> jobs.NewJob:
    settings = svc.settings
    spec = field(body, "spec_content")
    check_spec(spec)
    repo = field(body, "git_repo_url")
    check_repo_url(repo, settings)
    branch = field(body, "git_base_branch", required=False, default="main")
    check_branch(branch)
    agent = field(body, "agent", required=False) or settings.default_agent
    known = available_agents(settings.agents)
    choose_agent(settings, known, agent)
    setup = field(body, "setup", required=False)
    if setup is not None and (len(setup) > _MAX_SETUP or not setup.strip()):
        raise InvalidRequest(
            f"setup must be a non-empty command of at most {_MAX_SETUP} bytes",
        )
    push = field(body, "push", required=False, kind=bool, default=False)
    # A job's own network option is settled, and checked against the operator's, now; without
    # one the column stays NULL and the operator's policy is settled at dispatch, which keeps
    # a policy's JSON out of every job's row and its settling off the creation path.
    network = stored_network(settings, known[agent], repo, body)
    limits = job_limits(settings, known[agent], body)
    verify, fix_rounds = job_verify(settings, body)
    credential_id, credential_name = _credential(
        svc, user_id, field(body, "git_credential_name", required=False), repo
    )
    return jobs.NewJob(
        user_id,
        spec,
        repo,
        branch,
        agent,
        _timeout(settings, body),
        setup,
        credential_id,
        credential_name,
        push,
        network,
        limits,
        verify,
        fix_rounds,
    )


def refuse_unconfined(svc: Services) -> None:
    """409 while jobs cannot be confined (not by the operator's choice) and the server has
    more than one user: one user's job could read another's secrets."""
    confinement = svc.confinement
    if confinement is None or not confinement.one_user_only:
        return
    refusal = confinement.refusal(svc.db.read_with(count_users))
    if refusal is not None:
        raise Unconfined(refusal)
