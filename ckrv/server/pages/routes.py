"""Every page route of the dashboard, in one list the app factory mounts."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from ckrv.server.pages import (
    account,
    admin,
    grouppage,
    joblist,
    jobpage,
    newjob,
    settings,
    signin,
    static,
)

routes: list[BaseRoute] = [
    Route("/", joblist.list_page, methods=["GET"]),
    Route("/jobs/rows", joblist.rows_fragment, methods=["GET"]),
    Route("/jobs/new", newjob.form_page, methods=["GET"]),
    Route("/jobs/new", newjob.submit_form, methods=["POST"]),
    Route("/jobs/preview", newjob.preview_fragment, methods=["POST"]),
    Route("/jobs/{job_id}", jobpage.show_page, methods=["GET"]),
    Route("/jobs/{job_id}/cancel", jobpage.cancel_form, methods=["POST"]),
    Route("/jobs/{job_id}/log/events", jobpage.events, methods=["GET"]),
    Route("/jobs/{job_id}/log.txt", jobpage.log_file, methods=["GET"]),
    Route("/jobs/{job_id}/log.json", jobpage.log_page, methods=["GET"]),
    Route("/jobs/{job_id}/diff", jobpage.diff_page, methods=["GET"]),
    Route("/jobs/{job_id}/diff.patch", jobpage.patch_file, methods=["GET"]),
    Route("/groups/{group_id}", grouppage.show_page, methods=["GET"]),
    Route("/groups/{group_id}/cancel", grouppage.cancel_form, methods=["POST"]),
    Route("/signin", signin.show, methods=["GET"]),
    Route("/signin", signin.submit, methods=["POST"]),
    Route("/signout", signin.sign_out, methods=["POST"]),
    Route("/static/{name}", static.serve, methods=["GET"]),
    *settings.routes,
    *account.routes,
    *admin.routes,
]
