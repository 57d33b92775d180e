"""Serves `/v1/openapi.json` (the document is built once per URL by apidocs/openapi.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ckrv.server.apidocs.openapi import document
from ckrv.server.web.request_auth import services


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document(services(request).settings.api_url))


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
