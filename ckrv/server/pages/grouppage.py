"""`/groups/<id>`: a best-of-N group's attempts side by side for its owner (anyone else gets
the same 404 as for a missing group), in rank order with the pick marked, each linking to its
job page and diff; a form cancels every attempt still going. The ranking is the API's
(server/jobs/groups.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ckrv.contracts.jobmodel import TERMINAL, short_id
from ckrv.server.jobs.groups import group_members, public_group
from ckrv.server.pages.render import csrf_refused, not_found, page
from ckrv.server.pages.session import Browser, csrf_ok, signed_in_page
from ckrv.server.web.request_auth import services

_VERIFY = {True: "passed", False: "failed", None: "none"}


async def show(request: Request, browser: Browser) -> Response:
    group_id = request.path_params["group_id"]
    members = group_members(services(request), group_id, browser.user["id"])
    if not members:
        return not_found(request, browser)
    group = public_group(group_id, members)
    by_number = {a["attempt"]: a for a in group["attempts"]}
    ranked = [
        {**by_number[n], "rank": place, "short": short_id(by_number[n]["job_id"])}
        for place, n in enumerate(group["ranking"], 1)
    ]
    return page(
        "group.html",
        browser=browser,
        nav="jobs",
        group=group,
        ranked=ranked,
        verify_words=_VERIFY,
        going=sum(a["status"] not in TERMINAL for a in group["attempts"]),
    )


async def cancel(request: Request, browser: Browser) -> Response:
    form = await request.form()
    if not csrf_ok(form.get("csrf_token", ""), browser.csrf_token):
        return csrf_refused(browser)
    group_id = request.path_params["group_id"]
    svc = services(request)
    members = group_members(svc, group_id, browser.user["id"])
    if not members:
        return not_found(request, browser)
    for job in members:
        if job["status"] not in TERMINAL:
            await svc.engine.cancel(job["id"])
    return RedirectResponse(f"/groups/{group_id}", status_code=303)


show_page = signed_in_page(show)
cancel_form = signed_in_page(cancel)
