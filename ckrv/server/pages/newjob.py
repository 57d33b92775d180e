"""`/jobs/new`: start a job from the browser. The form builds the API's request body and hands
it to the same function `POST /v1/jobs` uses (jobs/creation.py), so the checks and their
messages are the API's; a refusal is shown above the form, which keeps what was typed. The
spec is typed or uploaded; its preview is Markdown rendered here by markdown-it-py with raw
HTML and images off (a spec can neither inject markup nor make the page load another host)."""

from __future__ import annotations

import sqlite3
from functools import cache
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ckrv.contracts.agents import available_agents
from ckrv.errors import CkrvError
from ckrv.server.jobs import store as jobs
from ckrv.server.jobs.creation import parse_new_job, refuse_unconfined
from ckrv.server.jobs.validation import MAX_SPEC_BYTES
from ckrv.server.pages.render import PAGE_HEADERS, csrf_refused, page
from ckrv.server.pages.session import Browser, csrf_ok, signed_in_page
from ckrv.server.vault.store import list_credentials
from ckrv.server.web.request_auth import services

_FROM_COLUMNS = (
    "id, spec_content, git_repo_url, git_base_branch, agent, credential_name, setup,"
    " timeout_seconds, push"
)
_MAX_FORM_BYTES = MAX_SPEC_BYTES * 2 + 64 * 1024  # the spec typed or uploaded, and the rest


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def preview_html(spec: str) -> Markup:
    return Markup(_markdown().render(spec[:MAX_SPEC_BYTES]))


def _choices(request: Request, browser: Browser) -> dict[str, Any]:
    settings = services(request).settings
    user_id = browser.user["id"]
    credentials = services(request).db.read_with(lambda c: list_credentials(c, user_id))
    return {
        "agents": sorted(available_agents(settings.agents)),
        "default_agent": settings.default_agent,
        "credentials": [c["name"] for c in credentials],
        "default_timeout_minutes": round(settings.job_timeout / 60, 1),
        "max_timeout_minutes": round(settings.max_job_timeout / 60, 1),
    }


def _render(
    request: Request, browser: Browser, values: dict[str, Any], status: int = 200, **extra: Any
) -> HTMLResponse:
    return page(
        "newjob.html",
        status,
        browser=browser,
        nav="new",
        values=values,
        **_choices(request, browser),
        **extra,
    )


def _prefill(request: Request, browser: Browser) -> dict[str, Any]:
    source = request.query_params.get("from")
    if not source:
        return {"git_base_branch": "main"}
    user_id = browser.user["id"]

    def read(conn: sqlite3.Connection) -> sqlite3.Row | None:
        return jobs.find(conn, source, _FROM_COLUMNS, user_id)

    row = services(request).db.read_with(read)
    if row is None:
        return {"git_base_branch": "main"}
    return {
        "spec_content": row["spec_content"],
        "git_repo_url": row["git_repo_url"],
        "git_base_branch": row["git_base_branch"],
        "agent": row["agent"],
        "git_credential_name": row["credential_name"] or "",
        "setup": row["setup"] or "",
        "timeout_minutes": round(row["timeout_seconds"] / 60, 1),
        "push": bool(row["push"]),
    }


async def show(request: Request, browser: Browser) -> Response:
    return _render(request, browser, _prefill(request, browser))


async def _values(form: FormData) -> dict[str, Any]:
    """What the form holds, as the user typed it (an uploaded spec replaces the typed one)."""
    values: dict[str, Any] = {
        name: str(form.get(name, "")).strip()
        for name in ("git_repo_url", "git_base_branch", "agent", "git_credential_name", "setup")
    }
    values["timeout_minutes"] = str(form.get("timeout_minutes", "")).strip()
    values["push"] = form.get("push") == "on"
    spec = str(form.get("spec_content", ""))
    upload = form.get("spec_file")
    if isinstance(upload, UploadFile) and upload.filename:
        spec = (await upload.read(MAX_SPEC_BYTES + 1)).decode("utf-8", "replace")
    values["spec_content"] = spec.replace("\r\n", "\n")
    return values


def _api_body(values: dict[str, Any]) -> dict[str, Any]:
    """The `POST /v1/jobs` body the form stands for (empty fields left out: the defaults)."""
    body: dict[str, Any] = {
        "spec_content": values["spec_content"],
        "git_repo_url": values["git_repo_url"],
        "push": values["push"],
    }
    for name in ("git_base_branch", "agent", "git_credential_name", "setup"):
        if values[name]:
            body[name] = values[name]
    minutes = values["timeout_minutes"]
    if minutes:
        try:
            body["timeout_seconds"] = float(minutes) * 60
        except ValueError:
            body["timeout_seconds"] = minutes  # the API's own message names it
    return body


async def submit(request: Request, browser: Browser) -> Response:
    if int(request.headers.get("content-length") or 0) > _MAX_FORM_BYTES:
        return page(
            "message.html",
            413,
            browser=browser,
            heading="Too large",
            message=f"The spec may be at most {MAX_SPEC_BYTES // 1024} KiB.",
        )
    form = await request.form(max_files=1, max_fields=20, max_part_size=MAX_SPEC_BYTES + 1024)
    if not csrf_ok(form.get("csrf_token", ""), browser.csrf_token):
        return csrf_refused(browser)
    values = await _values(form)
    if form.get("action") == "preview":
        return _render(request, browser, values, preview=preview_html(values["spec_content"]))
    svc = services(request)
    try:
        new_job = parse_new_job(svc, browser.user["id"], _api_body(values))
        refuse_unconfined(svc)
        row = await svc.engine.create(new_job)
    except CkrvError as error:
        if error.status >= 500:
            raise
        return _render(request, browser, values, error.status, error=error.message, hint=error.hint)
    return RedirectResponse(f"/jobs/{row['id']}", status_code=303)


async def preview(request: Request, browser: Browser) -> Response:
    """The spec's preview for the form's script: sanitized HTML, no layout around it."""
    form = await request.form(max_files=0, max_fields=4, max_part_size=MAX_SPEC_BYTES + 1024)
    if not csrf_ok(form.get("csrf_token", ""), browser.csrf_token):
        return csrf_refused(browser)
    html = preview_html(str(form.get("spec_content", "")))
    return HTMLResponse(html or "<p>Nothing to preview.</p>", headers=PAGE_HEADERS)


form_page = signed_in_page(show)
submit_form = signed_in_page(submit)
preview_fragment = signed_in_page(preview)
