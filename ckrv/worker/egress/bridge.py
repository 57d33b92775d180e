"""The bridge inside a job's network namespace (standard library only: the worker passes this
file's source with `python -I -S -c`, so nothing of ckrv needs to be importable inside).

    python -I -S -c "$(cat bridge.py)" --socket /path/proxy.sock -- COMMAND [ARG...]

It listens on 127.0.0.1 (a free port of the namespace's own loopback), points the usual proxy
variables of COMMAND at it, runs COMMAND and forwards every connection to the proxy's unix
socket, which the worker serves outside the namespace. It exits with COMMAND's exit code."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable

CHUNK = 256 * 1024
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")
NO_PROXY = "localhost"  # the namespace's own services; 127.0.0.1 goes through the proxy


def proxy_env(env: dict[str, str], port: int) -> dict[str, str]:
    url = f"http://127.0.0.1:{port}"
    return {
        **env,
        **dict.fromkeys(PROXY_VARIABLES, url),
        "all_proxy": url,
        "NO_PROXY": NO_PROXY,
        "no_proxy": NO_PROXY,
    }


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of file, then half-close (the proxy's tunnels use it too)."""
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _forwarder(socket_path: str) -> Handler:
    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(socket_path, limit=CHUNK)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            writer.close()
            up_writer.close()

    return forward


async def run(socket_path: str, argv: list[str]) -> int:
    server = await asyncio.start_server(_forwarder(socket_path), "127.0.0.1", 0, limit=CHUNK)
    port = server.sockets[0].getsockname()[1]
    try:
        child = await asyncio.create_subprocess_exec(*argv, env=proxy_env(dict(os.environ), port))
    except OSError as exc:
        print(f"ckrv: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # passed on: the command decides how to end
        loop.add_signal_handler(sig, child.send_signal, sig)
    code = await child.wait()
    server.close()
    return code if code >= 0 else 128 - code


def main(args: list[str]) -> int:
    if len(args) < 4 or args[0] != "--socket" or args[2] != "--":
        print("usage: bridge.py --socket PATH -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    return asyncio.run(run(args[1], args[3:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
