"""`GET pods/{name}/log`: the container's captured output, with `tailLines`, `limitBytes`,
`previous` and `follow` (which streams until the container ends), and the kubelet's 400s for
a container that has not started or has no previous instance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tests.support.k8s_sim.kubelet import Kubelet
from tests.support.k8s_sim.store import RESOURCES, ApiError, Obj, Store


def _container(pod: Obj, wanted: str | None) -> str:
    name = pod["metadata"]["name"]
    names = [c["name"] for c in pod["spec"]["containers"]]
    if wanted is None:
        if len(names) != 1:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod "
                f"{name}, choose one of: [{' '.join(names)}]",
            )
        return str(names[0])
    if wanted not in names:
        raise ApiError(400, "BadRequest", f"container {wanted} is not valid for pod {name}")
    return str(wanted)


def _check_started(pod: Obj, container: str, previous: bool) -> None:
    name = pod["metadata"]["name"]
    status = next(
        (s for s in pod["status"].get("containerStatuses", []) if s["name"] == container), None
    )
    if previous:
        if status is None or not status.get("restartCount"):
            raise ApiError(
                400,
                "BadRequest",
                f'previous terminated container "{container}" in pod "{name}" not found',
            )
        return
    waiting = (status or {}).get("state", {}).get("waiting")
    if status is None or waiting is not None:
        reason = (waiting or {}).get("reason", "ContainerCreating")
        raise ApiError(
            400,
            "BadRequest",
            f'container "{container}" in pod "{name}" is waiting to start: {reason}',
        )


def _tail(data: bytes, lines: int | None, limit: int | None) -> bytes:
    if lines is not None:
        parts = data.splitlines(keepends=True)
        data = b"".join(parts[-lines:]) if lines else b""
    if limit is not None:
        data = data[:limit]
    return data


async def _follow(
    path: Path, start: bytes, kubelet: Kubelet, key: tuple[str, str], offset: int
) -> AsyncIterator[bytes]:
    if start:
        yield start
    while True:
        running = kubelet.is_running(*key)
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
        if chunk:
            offset += len(chunk)
            yield chunk
        elif not running:
            return
        await asyncio.sleep(0.05)


async def read_log(store: Store, kubelet: Kubelet, request: Request) -> Response:
    namespace, name = request.path_params["ns"], request.path_params["name"]
    params = request.query_params
    pod = store.get(RESOURCES["pods"], namespace, name)
    container = _container(pod, params.get("container"))
    previous = params.get("previous") in {"true", "1"}
    _check_started(pod, container, previous)
    path = kubelet.log_path(namespace, name, container)
    data = path.read_bytes() if path.exists() else b""
    lines = int(params["tailLines"]) if params.get("tailLines") else None
    limit = int(params["limitBytes"]) if params.get("limitBytes") else None
    if params.get("follow") in {"true", "1"}:
        stream = _follow(path, _tail(data, lines, limit), kubelet, (namespace, name), len(data))
        return StreamingResponse(stream, media_type="text/plain")
    return Response(_tail(data, lines, limit), media_type="text/plain")
