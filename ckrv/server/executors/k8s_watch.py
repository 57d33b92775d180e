"""List-then-watch of one resource by label, in a dedicated thread feeding the event loop.

The informer pattern without the informer: list (hand the snapshot over), watch from the
list's resourceVersion, resume from the last version seen when a watch ends or its connection
drops (with backoff), and list again when the server answers 410 Gone because that version
was compacted away. Nothing between the list and the watch can be missed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ckrv.server.executors.k8s_client import KubeApi, KubeError, Obj

OnSync = Callable[[str, list[Obj], float], None]
"""(plural, items, monotonic time the list was requested)"""
OnEvent = Callable[[str, str, Obj], None]
"""(plural, event type ADDED/MODIFIED/DELETED, object)"""


class Backoff:
    def __init__(self, first: float = 0.1, cap: float = 10.0) -> None:
        self.first, self.cap, self.failures = first, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.first * 2**self.failures)
        self.failures += 1
        return float(delay * random.uniform(0.5, 1.0))

    def reset(self) -> None:
        self.failures = 0


class _Expired(Exception):
    """The watch's resourceVersion is gone: list again."""


class ResourceWatch:
    def __init__(
        self,
        api: KubeApi,
        plural: str,
        selector: str,
        loop: asyncio.AbstractEventLoop,
        on_sync: OnSync,
        on_event: OnEvent,
        timeout: int = 300,
    ) -> None:
        self.api, self.plural, self.selector = api, plural, selector
        self.loop, self.on_sync, self.on_event = loop, on_sync, on_event
        self.timeout = timeout
        self.resource_version: str | None = None
        self.lists = 0  # how many times we (re-)listed, for tests and diagnostics
        self._stopping = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name=f"ckrv-watch-{plural}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.shutdown()  # unblocks the read in the watch thread

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: we are shutting down
            self.loop.call_soon_threadsafe(callback, *args)

    def _run(self) -> None:
        backoff = Backoff()
        while not self._stopping.is_set():
            try:
                if self.resource_version is None:
                    self._list()
                self._watch()
                backoff.reset()
            except _Expired:
                self.resource_version = None
            except Exception as exc:  # any failure of one round: log, back off, go on
                if self._stopping.is_set():
                    return
                if isinstance(exc, KubeError) and exc.status == 410:
                    self.resource_version = None
                    continue
                delay = backoff.next()
                print(
                    f"ckrv: kubernetes watch of {self.plural} failed ({exc}); retrying in "
                    f"{delay:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
                self._stopping.wait(delay)

    def _list(self) -> None:
        started = time.monotonic()
        items, version = self.api.list(self.plural, self.selector)
        self.lists += 1
        self.resource_version = version
        self._post(self.on_sync, self.plural, items, started)

    def _watch(self) -> None:
        from kubernetes.watch.watch import iter_resp_lines

        assert self.resource_version is not None
        response = self.api.watch(self.plural, self.selector, self.resource_version, self.timeout)
        self._response = response
        try:
            for line in iter_resp_lines(response):  # type: ignore[no-untyped-call]
                if self._stopping.is_set():
                    return
                if line:
                    self._handle(json.loads(line))
        finally:
            self._response = None
            with contextlib.suppress(Exception):
                response.release_conn()

    def _handle(self, event: Obj) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Expired
            raise KubeError(
                f"kubernetes: watch {self.plural}: {obj.get('message')}", int(obj.get("code") or 0)
            )
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version:
            self.resource_version = str(version)
        if kind in {"ADDED", "MODIFIED", "DELETED"}:
            self._post(self.on_event, self.plural, str(kind), obj)


async def list_patiently(api: KubeApi, plural: str, selector: str, patience: float) -> list[Obj]:
    """A list at start-up, retried while the API server is unreachable or overloaded (it may be
    restarting too) for up to `patience` seconds; other errors are final."""
    backoff = Backoff(first=0.5, cap=8.0)
    deadline = time.monotonic() + patience
    while True:
        try:
            items, _ = await asyncio.to_thread(api.list, plural, selector)
            return items
        except KubeError as exc:
            retryable = exc.status == 0 or exc.status == 429 or exc.status >= 500
            delay = backoff.next()
            if not retryable or time.monotonic() + delay > deadline:
                raise
            print(f"ckrv: {exc}; retrying in {delay:.1f} s", file=sys.stderr, flush=True)
            await asyncio.sleep(delay)
