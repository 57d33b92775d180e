"""`/jobs/<id>`: one job for its owner (anyone else gets the same 404 as for a missing job).
The card and phase timeline are rendered here; the log arrives over `/jobs/<id>/log/events`
(the API's SSE follow stream, authenticated by the session cookie) and the diff as a
fragment from `/jobs/<id>/diff`, highlighted in a thread and kept while the server runs
(a finished job's diff never changes)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from ckrv.contracts.jobmodel import PHASES, TERMINAL, short_id
from ckrv.server.jobs import store as jobs
from ckrv.server.logs.stream import Reader
from ckrv.server.pages import diffview
from ckrv.server.pages.render import PAGE_HEADERS, csrf_refused, not_found, page, templates
from ckrv.server.pages.session import Browser, csrf_ok, signed_in_page
from ckrv.server.web.request_auth import services

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_DIFF_CACHE: OrderedDict[tuple[str, str], str] = OrderedDict()  # (job id, view) -> fragment
_DIFF_CACHE_SIZE = 16


def owned_row(request: Request, browser: Browser) -> sqlite3.Row | None:
    job_id = request.path_params["job_id"]
    user_id = browser.user["id"]
    try:
        return services(request).db.read_with(lambda c: jobs.find(c, job_id, jobs.COLUMNS, user_id))
    except ValueError:  # not an id at all
        return None


def timeline(job: dict[str, Any], phase_times: dict[str, str]) -> list[dict[str, Any]]:
    """Queued, started, each phase the worker reported, and the end, with their times."""
    status = job["status"]
    steps = [{"label": "Queued", "at": job["created_at"], "state": "done"}]
    if job["started_at"]:
        steps.append({"label": "Started", "at": job["started_at"], "state": "done"})
    for phase in PHASES:
        if phase in phase_times:
            current = status == "running" and job["phase"] == phase
            steps.append(
                {
                    "label": phase.capitalize(),
                    "at": phase_times[phase],
                    "state": "now" if current else "done",
                }
            )
    if status in TERMINAL:
        failed = status != "succeeded"
        steps.append(
            {
                "label": status.capitalize(),
                "at": job["completed_at"],
                "state": "failed" if failed else "done",
            }
        )
    elif status == "pending":
        steps[-1]["state"] = "now"
    return steps


async def show(request: Request, browser: Browser) -> Response:
    row = owned_row(request, browser)
    if row is None:
        return not_found(request, browser)
    svc = services(request)
    job = svc.engine.public(row)
    phase_times = json.loads(row["phase_times"]) if row["phase_times"] else {}
    state = svc.logs.state(row["id"])
    place = None
    if job["status"] == "pending":
        place = svc.db.read_with(lambda c: jobs.queue_place(c, row["seq"]))
    has_diff = (
        job["status"] == "succeeded" and not row["artifacts_expired"] and bool(row["diff_artifact"])
    )
    return page(
        "job.html",
        browser=browser,
        nav="jobs",
        job=job,
        short=short_id(job["id"]),
        steps=timeline(job, phase_times),
        queue_place=place,
        terminal=job["status"] in TERMINAL,
        has_diff=has_diff,
        log_expired=bool(state and state.expired),
        diff_expired=bool(row["artifacts_expired"]),
    )


async def cancel(request: Request, browser: Browser) -> Response:
    form = await request.form()
    if not csrf_ok(form.get("csrf_token", ""), browser.csrf_token):
        return csrf_refused(browser)
    row = owned_row(request, browser)
    if row is None:
        return not_found(request, browser)
    if row["status"] not in TERMINAL:
        await services(request).engine.cancel(row["id"])
    return RedirectResponse(f"/jobs/{row['id']}", status_code=303)


async def log_events(request: Request, browser: Browser) -> Response:
    """The API's SSE follow stream for the page's EventSource (which resumes from
    Last-Event-ID by itself)."""
    row = owned_row(request, browser)
    if row is None:
        return not_found(request, browser)
    after = _position(request.headers.get("last-event-id", "").strip()) or _position(
        request.query_params.get("after", "")
    )
    svc = services(request)
    stream = svc.logs.follow(row["id"], after, None, svc.engine.describe)
    return StreamingResponse(stream, media_type="text/event-stream", headers=_SSE_HEADERS)


def _position(text: str) -> int:
    return int(text) if text.isdigit() and len(text) < 19 else 0


async def log_json(request: Request, browser: Browser) -> Response:
    """A page of the log as the API's JSON (`after`, `limit` up to 10,000): the page's script
    reads a long backlog this way, a page at a time, before it follows the stream."""
    row = owned_row(request, browser)
    if row is None:
        return not_found(request, browser)
    after = _position(request.query_params.get("after", ""))
    limit = min(_position(request.query_params.get("limit", "")) or 5000, 10_000)
    body = services(request).logs.json_body(row["id"], after, None, limit)
    return StreamingResponse(
        body, media_type="application/json", headers={"Cache-Control": "no-store"}
    )


async def _log_text(request: Request, job_id: str) -> AsyncIterator[bytes]:
    reader = Reader(services(request).logs, job_id)
    after = 0
    try:
        while True:
            _state, entries = await reader.page(after)
            if not entries:
                return
            yield "".join(
                f"{ts} {level:<5} {source}: {message}\n"
                for _seq, ts, level, source, message in entries
            ).encode()
            after = entries[-1][0]
    finally:
        reader.close()


async def log_download(request: Request, browser: Browser) -> Response:
    row = owned_row(request, browser)
    if row is None:
        return not_found(request, browser)
    name = f"ckrv-{short_id(row['id'])}.log"
    return StreamingResponse(
        _log_text(request, row["id"]),
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _diff_path(request: Request, row: sqlite3.Row) -> Any:
    if row["status"] != "succeeded" or row["artifacts_expired"] or not row["diff_artifact"]:
        return None
    path = services(request).engine.artifacts.path(row["id"], "diff.patch")
    return path if path.is_file() else None


async def patch_download(request: Request, browser: Browser) -> Response:
    row = owned_row(request, browser)
    path = _diff_path(request, row) if row is not None else None
    if row is None or path is None:
        return not_found(request, browser)
    body = await asyncio.to_thread(path.read_bytes)
    name = f"ckrv-{short_id(row['id'])}.patch"
    return Response(
        body,
        media_type="text/x-diff; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _render_diff(text: str, view: str, job_id: str) -> str:
    files, shown = diffview.render_ready(text)
    return (
        templates()
        .get_template("_diff.html")
        .render(files=files, shown=shown, view=view, job_id=job_id)
    )


async def diff(request: Request, browser: Browser) -> Response:
    """The diff as a fragment (for the job page's script) or, asked for as a page, with the
    layout around it (`?view=split` for side by side)."""
    row = owned_row(request, browser)
    path = _diff_path(request, row) if row is not None else None
    if row is None or path is None:
        return not_found(request, browser)
    view = "split" if request.query_params.get("view") == "split" else "unified"
    key = (row["id"], view)
    fragment = _DIFF_CACHE.get(key)
    if fragment is None:
        text = (await asyncio.to_thread(path.read_bytes)).decode("utf-8", "replace")
        fragment = await asyncio.to_thread(_render_diff, text, view, row["id"])
        _DIFF_CACHE[key] = fragment
        while len(_DIFF_CACHE) > _DIFF_CACHE_SIZE:
            _DIFF_CACHE.popitem(last=False)
    _DIFF_CACHE.move_to_end(key)
    if request.query_params.get("fragment"):
        return Response(fragment, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
    return page(
        "diffpage.html",
        browser=browser,
        nav="jobs",
        job=services(request).engine.public(row),
        fragment=fragment,
        view=view,
    )


show_page = signed_in_page(show)
cancel_form = signed_in_page(cancel)
events = signed_in_page(log_events)
log_page = signed_in_page(log_json)
log_file = signed_in_page(log_download)
patch_file = signed_in_page(patch_download)
diff_page = signed_in_page(diff)
