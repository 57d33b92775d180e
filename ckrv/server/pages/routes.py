"""Every page route of the dashboard, in one list the app factory mounts."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from ckrv.server.pages import joblist, signin, static

routes: list[BaseRoute] = [
    Route("/", joblist.list_page, methods=["GET"]),
    Route("/jobs/rows", joblist.rows_fragment, methods=["GET"]),
    Route("/signin", signin.show, methods=["GET"]),
    Route("/signin", signin.submit, methods=["POST"]),
    Route("/signout", signin.sign_out, methods=["POST"]),
    Route("/static/{name}", static.serve, methods=["GET"]),
]
