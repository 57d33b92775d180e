"""/static/<name>: our own stylesheet and scripts, read from the package once, and the
highlighting stylesheet Pygments writes (a light and a dark style, chosen by the system's
colour scheme). Each answer carries an ETag, so a revisit costs a 304."""

from __future__ import annotations

import hashlib
import mimetypes
from functools import cache
from importlib import resources

from pygments.formatters import HtmlFormatter
from starlette.requests import Request
from starlette.responses import Response

_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
HIGHLIGHT_CSS = "highlight.css"


@cache
def _highlight_css() -> bytes:
    light = HtmlFormatter(style="default").get_style_defs(".hl")
    dark = HtmlFormatter(style="github-dark").get_style_defs(".hl")
    # The dark style's own background would fight the page's: keep only the token colours.
    dark = "\n".join(line for line in dark.splitlines() if not line.startswith(".hl  {"))
    light = "\n".join(line for line in light.splitlines() if not line.startswith(".hl  {"))
    return f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n".encode()


@cache
def asset(name: str) -> tuple[bytes, str, str] | None:
    """(body, content type, etag) of a static file, or None."""
    if name == HIGHLIGHT_CSS:
        body = _highlight_css()
    else:
        if "/" in name or name.startswith("."):
            return None
        source = resources.files("ckrv.server").joinpath("static", name)
        if not source.is_file():
            return None
        body = source.read_bytes()
    suffix = name[name.rfind(".") :] if "." in name else ""
    kind = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return body, kind, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def asset_version(name: str) -> str:
    """A short content hash, appended to an asset's URL so a new release is fetched anew."""
    found = asset(name)
    return found[2].strip('"')[:10] if found else "0"


async def serve(request: Request) -> Response:
    found = asset(request.path_params["name"])
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    body, kind, etag = found
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=kind, headers=headers)
