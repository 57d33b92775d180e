"""Starts the server: settings, data dir, a bound socket, uvicorn (imported here: only
`ckrv serve` imports this module). SIGTERM and SIGINT shut it
down cleanly (uvicorn's handlers, then our lifespan stops the components)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import math
import signal
import socket
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn

from ckrv.errors import ConfigError
from ckrv.server import serverlog
from ckrv.server.app import create_app
from ckrv.server.banner import say_banner
from ckrv.server.connections import connection_cap, guarded_protocol, raise_open_file_limit
from ckrv.server.identity.users import count_users
from ckrv.server.services import Services
from ckrv.settings import Settings, load_settings


@dataclass
class ServeOptions:
    data_dir: Path
    config: Path | None = None
    host: str | None = None
    port: int | None = None
    public_url: str | None = None
    executor: str | None = None
    kubeconfig: str | None = None
    log_format: str | None = None


def resolve_settings(options: ServeOptions) -> Settings:
    settings = load_settings(options.data_dir, options.config)
    settings = settings.with_overrides(
        host=options.host,
        port=options.port,
        public_url=options.public_url,
        executor=options.executor,
        kubernetes_kubeconfig=options.kubeconfig,
        log_format=options.log_format,
    )
    if settings.executor not in {"local", "kubernetes"}:
        raise ConfigError(f"unknown executor {settings.executor!r}: use local or kubernetes")
    if settings.keep_alive_timeout <= settings.device_poll_interval:
        raise ConfigError(
            f"keep_alive_timeout ({settings.keep_alive_timeout:g}s) must be longer than "
            f"device_poll_interval ({settings.device_poll_interval}s): a CLI polling on one "
            "connection would meet it closed"
        )
    if settings.log_format not in serverlog.LOG_FORMATS:
        raise ConfigError(f"unknown log_format {settings.log_format!r}: use text or json")
    return settings


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it keep-alive requests stall ~40 ms on delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}", hint=bind_hint(exc, host)
        ) from exc
    sock.listen(2048)
    return sock


def bind_hint(exc: OSError, host: str) -> str:
    """What to change when the address cannot be bound: the port only when it is the port."""
    if exc.errno == errno.EADDRINUSE:
        return "pick another --port, or stop what is using it"
    if exc.errno == errno.EACCES:
        return "ports below 1024 need privileges: pick a --port above 1023"
    return (
        f"--host {host} is not an address of this machine: use 127.0.0.1 (this machine only), "
        "0.0.0.0 (every address), or one `ip address` lists"
    )


def tune_gc() -> None:
    """Garbage collection for a long-running server, called once start-up is done."""
    # What is imported and built by now lives as long as the server: keep full collections
    # from walking it each time (their pauses were most of POST /v1/jobs' p99 under load).
    gc.freeze()
    # Young collections every 50,000 allocations, not 700: a request's objects are freed by
    # reference counting long before, so each pass finds only what is in flight, and POST
    # /v1/jobs spent 6-8% of its time in passes that found nothing to free.
    gc.set_threshold(50_000, 10, 10)


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


class StreamClosingServer(uvicorn.Server):
    """Ends live log streams as soon as a stop is asked for: uvicorn waits for open
    responses before the lifespan runs, so an SSE follower would hold the stop 5 s."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to close
            asyncio.get_running_loop().call_soon_threadsafe(self._on_exit)


def refuse_unconfined_users(services: Services) -> None:
    """Refuse to start when jobs cannot be confined (not by choice) and there are several users."""
    confinement = services.confinement
    if confinement is None or not confinement.one_user_only:
        return
    with contextlib.closing(sqlite3.connect(services.db.path)) as conn:
        users = count_users(conn)
    refusal = confinement.refusal(users)
    if refusal is not None:
        raise ConfigError(f"ckrv serve refuses to start: {refusal}")


def serve(options: ServeOptions) -> None:
    settings = resolve_settings(options)
    sock = bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    settings = settings.with_overrides(port=port)
    app = create_app(settings)
    refuse_unconfined_users(app.services)
    listener = serverlog.configure(settings.log_format)
    say_banner(app.services, f"http://{settings.host}:{port}")
    # X-Forwarded-For only from the proxies named in trusted_proxies: uvicorn's default takes it
    # from any loopback client, so a local guesser could forge a fresh address for every try
    # past the throttles, and the approval page would show what the header claimed.
    trusted = list(settings.trusted_proxies)
    cap = connection_cap(settings.max_connections, raise_open_file_limit())
    config = uvicorn.Config(
        app,
        log_level="warning",
        log_config=None,  # its loggers write through serverlog, in the chosen format
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        http=guarded_protocol(
            settings.header_timeout, cap, settings.body_timeout, settings.body_min_rate
        ),
        # Idle keep-alive connections outlive the device-flow poll interval, so a polling CLI
        # keeps its connection instead of racing the server's close.
        timeout_keep_alive=math.ceil(settings.keep_alive_timeout),
        # Beyond the cap, idle connections are shed first (connections.py): a 503 only when
        # every connection is busy with a request.
        limit_concurrency=cap + 1,
    )
    server = StreamClosingServer(config, app.services.logs.close_streams)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, restores the previous handlers, then
    # re-raises the signal; make those handlers a clean exit so a stop ends with status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    tune_gc()
    try:
        server.run(sockets=[sock])
    finally:
        listener.stop()  # writes out what is queued
    if not server.started:
        sys.exit(1)
