"""`/`: the signed-in user's jobs, newest first, 25 a page (keyset pages: a row number, never
an offset), filtered by status and repository, searched by title or id. The rows update live:
the page's script asks `/jobs/rows` (the same filters) every few seconds with the ETag of what
it shows, and gets a 304 until something changed."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ckrv.contracts.jobmodel import STATUSES, JobStatus, short_id
from ckrv.errors import InvalidRequest
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.public import public_job
from ckrv.server.pages.render import PAGE_HEADERS, page, templates
from ckrv.server.pages.session import Browser, signed_in_page
from ckrv.server.web.http import decode_cursor, encode_cursor
from ckrv.server.web.request_auth import services

PAGE_SIZE = 25
_ID_LIKE = re.compile(r"^[0-9a-f][0-9a-f-]{3,35}$")


@dataclass(frozen=True)
class Filters:
    status: JobStatus | None
    repo: str | None
    q: str
    before: int | None

    @classmethod
    def of(cls, request: Request) -> Filters:
        params = request.query_params
        asked = params.get("status")
        status = next((s for s in STATUSES if s == asked), None)
        before = None
        if params.get("before"):
            try:
                before = decode_cursor(params["before"])
            except InvalidRequest:
                before = None
        return cls(status, params.get("repo") or None, params.get("q", "").strip()[:200], before)

    def query(self, **change: Any) -> str:
        """This page's query string, with `change` applied (None drops a parameter)."""
        current = {"status": self.status, "repo": self.repo, "q": self.q or None}
        current.update(change)
        return urlencode({k: v for k, v in current.items() if v})


def _rows(conn: sqlite3.Connection, user_id: str, f: Filters) -> list[sqlite3.Row]:
    args: dict[str, Any] = {"status": f.status, "repo": f.repo, "before": f.before}
    if f.q and _ID_LIKE.match(f.q.lower()):
        found = jobs.dashboard_page(conn, user_id, PAGE_SIZE + 1, id_prefix=f.q.lower(), **args)
        if found:
            return found
    return jobs.dashboard_page(conn, user_id, PAGE_SIZE + 1, title=f.q or None, **args)


def _view(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    job = public_job(row)
    job["short_id"] = short_id(job["id"])
    if job["status"] == "pending":
        job["queue_place"] = jobs.queue_place(conn, row["seq"])
    return job


def _listing(request: Request, browser: Browser, f: Filters) -> dict[str, Any]:
    user_id = browser.user["id"]

    def read(conn: sqlite3.Connection) -> dict[str, Any]:
        rows = _rows(conn, user_id, f)
        shown = rows[:PAGE_SIZE]
        more = encode_cursor(shown[-1]["seq"]) if len(rows) > PAGE_SIZE else None
        partial = False
        if more is None and f.q and not _ID_LIKE.match(f.q.lower()):
            floor = jobs.search_floor(conn, user_id, f.before)  # the search read this far
            if floor is not None and floor > 1:
                more, partial = encode_cursor(floor), True
        return {
            "jobs": [_view(conn, r) for r in shown],
            "older": f.query(before=more) if more else None,
            "partial_search": partial,
            "search_window": jobs.SEARCH_WINDOW,
            "repos": jobs.repositories(conn, user_id),
        }

    return services(request).db.read_with(read)


async def job_list(request: Request, browser: Browser) -> Response:
    f = Filters.of(request)
    listing = _listing(request, browser, f)
    return page(
        "jobs.html",
        browser=browser,
        nav="jobs",
        filters=f,
        statuses=STATUSES,
        live=f.before is None,
        rows_url="/jobs/rows?" + f.query(),
        **listing,
    )


async def job_rows(request: Request, browser: Browser) -> Response:
    """The first page's rows alone, for the live update; 304 while they are unchanged."""
    f = Filters.of(request)
    listing = _listing(request, browser, f)
    html = templates().get_template("_jobrows.html").render(jobs=listing["jobs"])
    etag = '"' + hashlib.sha256(html.encode()).hexdigest()[:24] + '"'
    headers = {**PAGE_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return HTMLResponse(html, headers=headers)


list_page = signed_in_page(job_list)
rows_fragment = signed_in_page(job_rows)
