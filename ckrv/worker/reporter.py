"""How a worker reports to the server. Log lines and events go into one ordered outbound queue
that a sender thread drains: consecutive log lines travel as one batch, flushed within a few
milliseconds of the first one. While the server is unreachable the worker keeps working, the
queue keeps (a bounded number of) reports and the sender retries with backoff. A 409 means the
job ended or this dispatch was superseded: the worker must stop."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Protocol

from ckrv.errors import WorkerError
from ckrv.timeutil import iso, utcnow
from ckrv.worker.http import Connection, Response, Unreachable

LINGER_SECONDS = 0.002
MAX_BATCH = 2000
MAX_QUEUED_LINES = 200_000
MAX_LINE_CHARS = 64 * 1024
GIVE_UP_SECONDS = 15 * 60


class JobGone(Exception):
    """The server says this job ended or this worker was superseded."""


class Reporter(Protocol):
    def log(self, source: str, message: str, level: str = "info") -> None: ...

    def event(self, **fields: Any) -> None: ...

    def finish(self, result: dict[str, Any], diff: bytes | None) -> None: ...

    def parent_bundle(self) -> bytes: ...

    @property
    def gone(self) -> bool: ...


class HttpReporter:
    def __init__(self, api_url: str, job_id: str, token: str, *, timeout: float = 10.0) -> None:
        self._http = Connection(api_url, token, timeout=timeout)
        self._prefix = f"/worker/jobs/{job_id}"
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._lines = 0
        self._dropped = 0
        self._seq = 0
        self._cond = threading.Condition()
        self._busy = False
        self._gone = False
        self._closed = False
        self._sender = threading.Thread(target=self._send_loop, name="ckrv-reporter", daemon=True)
        self._sender.start()

    @property
    def gone(self) -> bool:
        return self._gone

    # --- producers ---

    def log(self, source: str, message: str, level: str = "info") -> None:
        if len(message) > MAX_LINE_CHARS:
            message = message[:MAX_LINE_CHARS] + " [line truncated by the worker]"
        with self._cond:
            if self._lines >= MAX_QUEUED_LINES:
                self._drop_oldest_line()
            self._seq += 1
            self._queue.append(
                (
                    "log",
                    {
                        "seq": self._seq,
                        "timestamp": iso(utcnow()),
                        "level": level,
                        "source": source,
                        "message": message,
                    },
                )
            )
            self._lines += 1
            self._cond.notify()

    def _drop_oldest_line(self) -> None:
        for index, (kind, _item) in enumerate(self._queue):
            if kind == "log":
                del self._queue[index]
                self._lines -= 1
                self._dropped += 1
                return

    def event(self, **fields: Any) -> None:
        with self._cond:
            self._queue.append(("event", fields))
            self._cond.notify()

    # --- sender ---

    def _next_batch(self) -> tuple[str, Any] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if not self._queue:
                return None
            self._busy = True
            kind, first = self._queue[0]
        if kind == "event":
            return "event", first
        time.sleep(LINGER_SECONDS)  # let a burst of lines join this batch
        with self._cond:
            batch: list[dict[str, Any]] = []
            for kind, item in self._queue:
                if kind != "log" or len(batch) >= MAX_BATCH:
                    break
                batch.append(item)
            return "log", batch

    def _send_loop(self) -> None:
        backoff = 0.05
        while True:
            work = self._next_batch()
            if work is None:
                return
            kind, payload = work
            try:
                if kind == "event":
                    self._post("/events", payload)
                else:
                    self._post("/logs", {"entries": payload})
            except JobGone:
                with self._cond:
                    self._gone = True
                    self._queue.clear()
                    self._busy = False
                    self._cond.notify_all()
                return
            except (Unreachable, _Retry):
                with self._cond:
                    self._busy = False
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            with self._cond:
                count = 1 if kind == "event" else len(payload)
                for _ in range(count):
                    self._queue.popleft()
                if kind == "log":
                    self._lines -= count
                self._busy = False
                self._cond.notify_all()

    def _post(self, path: str, body: Any) -> Response:
        return self._check(self._http.request("POST", self._prefix + path, json=body))

    @staticmethod
    def _check(response: Response) -> Response:
        if response.status_code == 409:
            raise JobGone(response.text)
        if response.status_code >= 500 or response.status_code == 429:
            raise _Retry()
        if response.status_code >= 400:
            raise WorkerError(
                f"server refused a report ({response.status_code}): {response.text[:300]}"
            )
        return response

    def drain(self, timeout: float = GIVE_UP_SECONDS) -> bool:
        """Wait until everything queued has been delivered; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._dropped:
                dropped, self._dropped = self._dropped, 0
                self._seq += 1
                self._queue.append(
                    (
                        "log",
                        {
                            "seq": self._seq,
                            "timestamp": iso(utcnow()),
                            "level": "warn",
                            "source": "worker",
                            "message": f"[{dropped} log lines were dropped "
                            "while the server was unreachable]",
                        },
                    )
                )
                self._lines += 1
                self._cond.notify()
            while (self._queue or self._busy) and not self._gone:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return not self._gone

    # --- direct calls (retried until they land) ---

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        content_type: str = "application/octet-stream",
    ) -> Response:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        backoff = 0.1
        while True:
            try:
                response = self._http.request(
                    method,
                    self._prefix + path,
                    json=json,
                    content=content,
                    content_type=content_type,
                )
                return self._check(response)
            except (Unreachable, _Retry):
                if time.monotonic() > deadline:
                    raise WorkerError("the server stayed unreachable; giving up") from None
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def describe(self) -> dict[str, Any]:
        description: dict[str, Any] = self.request("GET", "").json()
        return description

    def parent_bundle(self) -> bytes:
        """The bundle of the parent's result (a follow-up's start)."""
        return self.request("GET", "/parent/bundle").content

    def upload_result_files(self, delta: bytes | None, bundle: bytes | None) -> None:
        """A follow-up's own step, and the result's commits for the next one."""
        if delta is not None:
            self.request("PUT", "/delta", content=delta)
        if bundle is not None:
            self.request("PUT", "/bundle", content=bundle)

    def upload_transcripts(self, transcripts: list[str]) -> None:
        """Each verify run's transcript, in order (run 0 first)."""
        for run, text in enumerate(transcripts):
            self.request("PUT", f"/verify/{run}", json={"text": text})

    def finish(self, result: dict[str, Any], diff: bytes | None) -> None:
        if not self.drain():
            if self._gone:
                raise JobGone("job ended")
            raise WorkerError("could not deliver the log before giving up")
        if diff is not None:
            self.request("PUT", "/diff", content=diff, content_type="text/plain")
        self.request("POST", "/result", json=result)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._sender.join(timeout=5)
        self._http.close()


class _Retry(Exception):
    pass
