"""A bare Starlette app on the same uvicorn settings as `ckrv serve`: the yardstick the API's
speed is compared with. GET returns a fixed JSON body; POST reads a JSON body and answers 201."""

from __future__ import annotations

import json
import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BODY = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {"ok": True}


async def get(request: Request) -> JSONResponse:
    return JSONResponse(BODY)


async def post(request: Request) -> JSONResponse:
    await request.json()
    return JSONResponse(BODY, status_code=201)


app = Starlette(
    routes=[Route("/bare", get, methods=["GET"]), Route("/bare", post, methods=["POST"])]
)

if __name__ == "__main__":
    import uvicorn

    from ckrv.server.serving import bind, tune_gc

    sock = bind("127.0.0.1", 0)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    # The uvicorn settings of `ckrv serve` (ckrv/server/serving.py), lifespan aside, and its
    # garbage collector settings: the comparison is of routes, not of process tuning.
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", proxy_headers=False
    )
    tune_gc()
    uvicorn.Server(config).run(sockets=[sock])
