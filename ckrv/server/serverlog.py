"""The server's own log, for its operator (not a job's log, which is logs/): requests, each job's
life, logins and throttles, one line each, as text or as JSON (`--log-format`, `log_format`).

Records are made with `event(...)`: a stable event name (`request`, `job.ended`, ...), a short
human message and flat fields. `configure` sends the `ckrv` loggers' records to a stream
through a queue, so the event loop never waits on a slow reader of the server's output. Until
it is called (in-process tests, `ckrv admin`) nothing below a warning is shown.

Never log a secret: no token, cookie, password, device or user code, query string or body.
The client address of the request being served is added to every record made while serving
it (`CLIENT`, set by web/access_log.py), so a login line says where it came from."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import logging.handlers
import queue
import re
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

LOG_FORMATS = ("text", "json")
ROOT = "ckrv"
# The client address of the request this task serves ("" outside a request).
CLIENT: contextvars.ContextVar[str] = contextvars.ContextVar("ckrv_client", default="")

access = logging.getLogger("ckrv.access")
jobs = logging.getLogger("ckrv.jobs")
auth = logging.getLogger("ckrv.auth")
server = logging.getLogger("ckrv.server")


def event(
    logger: logging.Logger, name: str, message: str, level: int = logging.INFO, **fields: Any
) -> None:
    """Log `message` as event `name` with `fields` (and the client address, in a request)."""
    if not logger.isEnabledFor(level):
        return
    client = CLIENT.get()
    if client and "client" not in fields:
        fields["client"] = client
    # makeRecord, not logger.log: that looks up the calling frame, a third of a record's cost
    record = logger.makeRecord(
        logger.name, level, "", 0, message, (), None, extra={"event": name, "fields": fields}
    )
    logger.handle(record)


class _Handoff(logging.handlers.QueueHandler):
    """Hands records to the writer thread as they are: ours carry no arguments to merge, so
    the copy and the formatting QueueHandler does on the calling thread are left out."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.args or record.exc_info or record.stack_info:
            prepared: logging.LogRecord = super().prepare(record)  # uvicorn's records, say
            return prepared
        return record


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


_NEEDS_QUOTES = re.compile(r'[\s"=]|^$')


def _text_value(value: Any) -> str:
    text = "-" if value is None else str(value)
    return json.dumps(text, ensure_ascii=False) if _NEEDS_QUOTES.search(text) else text


class TextFormatter(logging.Formatter):
    """`2026-12-04T22:00:00.123Z INFO  GET /v1/jobs 200 3.1 ms  status=200 duration_ms=3.1 ...`:
    the message for people, then every field as key=value (quoted when it has spaces)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={_text_value(v)}" for k, v in _fields(record).items())
        line = f"{_timestamp(record)} {record.levelname:<5} {record.getMessage()}"
        line = f"{line}  {fields}" if fields else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, its keys stable: `ts`, `level`, `logger`, `event`, `message`,
    then the event's fields (`exception` when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", "log"),
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            body.setdefault(key, value)
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


_BATCH_SECONDS = 0.02  # a line reaches the log at most this much later
_MAX_BATCH = 5000
_END = object()


class _BatchWriter(logging.handlers.QueueListener):
    """Writes the records that have queued up in one go, a batch at most every few
    milliseconds: a wake-up, format and write per record made the writer thread take the GIL
    from the event loop thousands of times a second and halved the API's throughput."""

    def __init__(
        self, records: queue.SimpleQueue[Any], output: logging.StreamHandler[IO[str]]
    ) -> None:
        super().__init__(records, output)
        self.records, self.output = records, output

    def enqueue_sentinel(self) -> None:  # stop(): what came before is written, then it ends
        self.records.put_nowait(_END)

    def _monitor(self) -> None:
        records, stream = self.records, self.output.stream
        while True:
            first = records.get()
            time.sleep(_BATCH_SECONDS)  # let the loop run; what arrives meanwhile joins
            batch = [first]
            with contextlib.suppress(queue.Empty):
                while len(batch) < _MAX_BATCH:
                    batch.append(records.get_nowait())
            lines = [self.output.format(r) for r in batch if r is not _END]
            if lines:
                with contextlib.suppress(OSError, ValueError):  # a closed stdout stops nothing
                    stream.write("\n".join(lines) + "\n")
                    stream.flush()
            if any(r is _END for r in batch):
                return


def configure(log_format: str, stream: IO[str] | None = None) -> logging.handlers.QueueListener:
    """Send the `ckrv` loggers' records (info and up) to `stream` (stdout) in `log_format`;
    uvicorn's own warnings and errors too. Returns the started listener: stop it at exit, to flush."""
    # Nothing reads a record's process or thread: leave out the calls that fill them in.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    output = logging.StreamHandler(stream or sys.stdout)
    output.setFormatter(formatter(log_format))
    listener = _BatchWriter(records, output)
    for name in (ROOT, "uvicorn"):  # uvicorn.Config(log_config=None) leaves these to us
        logger = logging.getLogger(name)
        logger.handlers = [_Handoff(records)]
        logger.setLevel(logging.INFO if name == ROOT else logging.WARNING)
        logger.propagate = False
    listener.start()
    return listener
