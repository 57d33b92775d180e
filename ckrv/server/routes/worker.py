"""The worker API: a worker, holding a token for one dispatch attempt of one job, fetches its
job, reports status and phases, sends logs, uploads the diff and reports the result. A token of
a superseded attempt, or for a job that already ended, gets 409 and the worker stops.

Every text a worker writes (log lines, commits and branch names, the summary, the error, the
names in diff_stats) passes the server's own mask of the job's secrets before it is stored
(ckrv/server/logs/masking.py), off the event loop."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ckrv.contracts.agents import available_agents
from ckrv.contracts.cost import MAX_RUN_COST_USD, valid_total
from ckrv.contracts.job_description import AgentDescription, CredentialLabel, JobDescription
from ckrv.contracts.jobmodel import PHASES, TERMINAL, WORKER_RESULTS
from ckrv.errors import InvalidRequest, JobEnded, NotFound, Superseded
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.followups import BUNDLE, DELTA, earlier_steps
from ckrv.server.jobs.limits import settled_limits
from ckrv.server.jobs.network import settled_policy
from ckrv.server.jobs.verify import settled_verify
from ckrv.server.storage.artifacts import atomic_file
from ckrv.server.vault.store import credential_kind
from ckrv.server.web.http import field, json_body
from ckrv.server.web.request_auth import services, worker_claims

_MAX_LOG_BATCH = 16 * 1024 * 1024
MAX_TRANSCRIPT_BYTES = 1024 * 1024
_RESULT_TEXTS = ("pushed_branch", "summary", "error_message")
# Keys a worker sends that this server does not know are ignored, not refused: a worker of
# another ckrv version (a Kubernetes image not yet upgraded) must not fail its jobs, as the
# worker ignores what it does not know in the job's description. (Users' bodies are strict.)
FROM_ANY_WORKER = None
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def worker_job(request: Request) -> sqlite3.Row:
    """The job of the calling worker: its token must be for this job's current dispatch
    attempt, and the job must not have ended (409 tells the worker to stop)."""
    job_id = request.path_params["job_id"]
    claims = worker_claims(request)
    row = services(request).db.read_with(lambda c: jobs.find(c, job_id))
    if claims["sub"] != job_id or row is None:
        raise NotFound("job not found")
    if row["attempt"] != claims.get("jti"):
        raise Superseded("this worker's dispatch was superseded; stop")
    if row["status"] in TERMINAL:
        raise JobEnded(f"job already ended ({row['status']}); stop")
    return row


def _spec(request: Request, job_id: str) -> str:
    """The spec, read only here: it may be 1 MiB, and the other worker calls are hot."""
    row = services(request).db.read_with(lambda c: jobs.find(c, job_id, "spec_content"))
    return str(row["spec_content"]) if row else ""


async def describe(request: Request) -> Response:
    row = worker_job(request)
    settings = services(request).settings
    agent = available_agents(settings.agents)[row["agent"]]
    credential = None
    if row["credential_id"]:
        credential_id = row["credential_id"]
        cred = services(request).db.read_with(lambda c: credential_kind(c, credential_id))
        credential = CredentialLabel(**cred) if cred else None
    description = JobDescription(
        id=row["id"],
        spec_content=_spec(request, row["id"]),
        spec_title=row["spec_title"],
        git_repo_url=row["git_repo_url"],
        git_base_branch=row["git_base_branch"],
        feature_branch_name=row["feature_branch_name"],
        setup=row["setup"],
        push=bool(row["push"]),
        timeout_seconds=row["timeout_seconds"],
        agent=AgentDescription.of(agent),
        credential=credential,
        max_diff_bytes=settings.max_diff_bytes,
        allow_local_repositories=settings.allow_local_repositories,
        refuse_private_hosts=settings.refuse_private_hosts,
        ssh_known_hosts=settings.ssh_known_hosts,
        network=settled_policy(row, settings, agent),
        limits=settled_limits(row, settings, agent),
        verify=settled_verify(row, settings),
        fix_rounds=row["fix_rounds"],
        start_commit=row["start_commit"],
        base_commit=row["base_commit"] if row["parent_id"] else None,
        earlier=tuple(earlier_steps(services(request), row)),
    )
    return JSONResponse(description.to_wire())


async def report_event(request: Request) -> Response:
    row = worker_job(request)
    body = await json_body(request, accepted=FROM_ANY_WORKER)
    eng = services(request).engine
    status = field(body, "status", required=False)
    if status is not None and status != "running":  # the result route reports the end
        raise InvalidRequest("status, when given, must be running")
    if status == "running":
        await eng.mark_running(row["id"])
    phase = field(body, "phase", required=False)
    if phase is not None and phase not in PHASES:
        raise InvalidRequest(f"phase must be one of {', '.join(PHASES)}")
    progress = {
        k: field(body, k, required=False) for k in ("phase", "base_commit", "feature_branch_name")
    }
    if any(v is not None for v in progress.values()):
        await eng.progress(row["id"], await _masked(request, row, progress))
    return JSONResponse({"ok": True})


async def _masked(request: Request, row: sqlite3.Row, fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with every string value masked of the job's secrets (the second line)."""
    names = [k for k, v in fields.items() if isinstance(v, str)]
    masked = await services(request).maskers.mask(row, [fields[k] for k in names])
    return {**fields, **dict(zip(names, masked, strict=True))}


async def ingest_logs(request: Request) -> Response:
    row = worker_job(request)
    body = await json_body(request, accepted=FROM_ANY_WORKER, max_bytes=_MAX_LOG_BATCH)
    maskers = services(request).maskers
    mask = await maskers.masking(row)  # the second line of masking
    entries = body.get("entries")
    accepted = await services(request).logs.ingest(row["id"], entries, mask, maskers.run)
    return JSONResponse({"accepted": accepted})


async def upload_diff(request: Request) -> Response:
    return await _upload(request, "diff.patch")


async def upload_delta(request: Request) -> Response:
    """A follow-up's own step, beside its diff (the thread's whole change)."""
    return await _upload(request, DELTA)


async def upload_bundle(request: Request) -> Response:
    """The result's commits since the thread's base, for a follow-up to start from."""
    return await _upload(request, BUNDLE)


async def _upload(request: Request, name: str) -> Response:
    row = worker_job(request)
    svc = services(request)
    size = await svc.engine.artifacts.write_stream(
        row["id"], name, request.stream(), svc.settings.max_diff_bytes
    )  # ArtifactTooLarge past the limit
    return JSONResponse({"bytes": size})


async def parent_bundle(request: Request) -> Response:
    """The bundle of the job's parent (only its own parent's: the worker's token is for this
    job alone)."""
    row = worker_job(request)
    if row["parent_id"] is None:
        raise NotFound("this job continues no other job")
    path = services(request).engine.artifacts.path(row["parent_id"], BUNDLE)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise NotFound("the parent's result is no longer kept (artifact retention)") from None
    return Response(data, media_type="application/octet-stream")


async def upload_verify_transcript(request: Request) -> Response:
    """One verify run's transcript (run N of the job, from 0; JSON {"text": ...}), masked as
    its log is."""
    row = worker_job(request)
    run = _run_number(request, row)
    svc = services(request)
    text = field(
        await json_body(request, accepted=FROM_ANY_WORKER, max_bytes=MAX_TRANSCRIPT_BYTES), "text"
    )
    data = (await svc.maskers.mask(row, [text]))[0].encode()
    path = svc.engine.artifacts.path(row["id"], f"verify-{run}.log")
    await asyncio.to_thread(_write_artifact, path, data)
    return JSONResponse({"bytes": len(data)})


def _run_number(request: Request, row: sqlite3.Row) -> int:
    raw = request.path_params["run"]
    if not raw.isdigit() or int(raw) > row["fix_rounds"]:
        raise InvalidRequest("the verify run is a number from 0 to the job's fix_rounds")
    return int(raw)


def _write_artifact(path: Path, data: bytes) -> None:
    with atomic_file(path) as handle:
        handle.write(data)


async def report_result(request: Request) -> Response:
    row = worker_job(request)
    body = await json_body(request, accepted=FROM_ANY_WORKER)
    status = field(body, "status")
    if status not in WORKER_RESULTS:
        raise InvalidRequest("status must be succeeded or failed")
    eng = services(request).engine
    if status == "succeeded" and not eng.artifacts.path(row["id"], "diff.patch").exists():
        raise InvalidRequest("upload the diff before reporting success")
    stats = body.get("diff_stats")
    if stats is not None and not (
        isinstance(stats, dict)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in stats.values())
    ):
        raise InvalidRequest("diff_stats must map names to integers")
    # Every field is checked before anything is recorded: a refused report changes nothing.
    texts = await _masked(request, row, {k: field(body, k, required=False) for k in _RESULT_TEXTS})
    pushed, summary, error = (texts[k] for k in _RESULT_TEXTS)
    exit_code = field(body, "agent_exit_code", required=False, kind=int)
    verified = field(body, "verified", required=False, kind=bool)
    rounds = field(body, "rounds", required=False, kind=int)
    runs = field(body, "verify_runs", required=False, kind=int)
    result_commit = field(body, "result_commit", required=False)
    if result_commit is not None and not _COMMIT.match(result_commit):
        raise InvalidRequest("result_commit must be a commit id (40 hexadecimal digits)")
    if rounds is not None and not 0 <= rounds <= row["fix_rounds"]:
        raise InvalidRequest("rounds must be between 0 and the job's fix_rounds")
    cost = body.get("cost_usd")
    if cost is not None and not valid_total(cost, row["fix_rounds"] + 1):
        raise InvalidRequest(
            f"cost_usd must be a number from 0 to {MAX_RUN_COST_USD:g} for each agent run"
        )
    if stats:  # its names are text too
        names = await services(request).maskers.mask(row, list(stats))
        stats = dict(zip(names, stats.values(), strict=True))
    if pushed:
        await eng.progress(row["id"], {"pushed_branch": pushed})
    await eng.finish(
        row["id"],
        status,
        summary=summary,
        error=error if status == "failed" else None,
        diff_stats=stats,
        diff_artifact="diff.patch" if status == "succeeded" else None,
        agent_exit_code=exit_code,
        verified=verified,
        rounds=rounds,
        verify_runs=runs,
        result_commit=result_commit if status == "succeeded" else None,
        cost_usd=float(cost) if cost is not None else None,
    )
    return JSONResponse({"ok": True})


routes = [
    Route("/worker/jobs/{job_id}", describe, methods=["GET"]),
    Route("/worker/jobs/{job_id}/events", report_event, methods=["POST"]),
    Route("/worker/jobs/{job_id}/logs", ingest_logs, methods=["POST"]),
    Route("/worker/jobs/{job_id}/diff", upload_diff, methods=["PUT"]),
    Route("/worker/jobs/{job_id}/delta", upload_delta, methods=["PUT"]),
    Route("/worker/jobs/{job_id}/bundle", upload_bundle, methods=["PUT"]),
    Route("/worker/jobs/{job_id}/parent/bundle", parent_bundle, methods=["GET"]),
    Route("/worker/jobs/{job_id}/verify/{run}", upload_verify_transcript, methods=["PUT"]),
    Route("/worker/jobs/{job_id}/result", report_result, methods=["POST"]),
]
