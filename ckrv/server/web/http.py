"""HTTP plumbing shared by the routes: body parsing, query parameters, pagination cursors."""

from __future__ import annotations

import base64
import difflib
import re
from collections.abc import Collection
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ckrv.errors import InvalidRequest, PayloadTooLarge, UnknownFields

_MAX_JSON_BODY = 2 * 1024 * 1024


class FastJSONResponse(Response):
    """JSON rendered with orjson: the hot API responses spend most of their time encoding."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {max_bytes} bytes")


def header(request: Request, name: bytes) -> str | None:
    """One request header by its lower-case name: cheaper than `request.headers`, which builds
    a Headers object, on the hot routes that read one or two."""
    for key, value in request.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def json_body(
    request: Request, *, accepted: Collection[str] | None, max_bytes: int = _MAX_JSON_BODY
) -> dict[str, Any]:
    """The request's JSON object. `accepted`: the keys the route takes, any other is refused
    (a misspelt option would otherwise be served as its default); None only where unknown keys
    must be ignored: the OAuth endpoints (RFC 6749 says so) and the worker routes (a worker of
    another ckrv version)."""
    length = header(request, b"content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # counted as it arrives: a chunked body has no length
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    try:
        # orjson: 8x faster than json here, and stricter (no NaN, no lone surrogates).
        body = orjson.loads(b"".join(chunks))
    except ValueError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    if accepted is not None:
        refuse_unknown_fields(body, accepted)
    return body


def refuse_unknown_fields(body: dict[str, Any], accepted: Collection[str]) -> None:
    unknown = [key for key in body if key not in accepted]
    if not unknown:
        return
    known = sorted(accepted)
    named = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=1)
        named.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise UnknownFields(
        f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(named)}; "
        f"this request takes {', '.join(known)}",
        unknown=unknown,
        accepted=known,
    )


def field(
    body: dict[str, Any], name: str, *, required: bool = True, kind: type = str, default: Any = None
) -> Any:
    value = body.get(name, default)
    if value is None:
        if required:
            raise InvalidRequest(f"missing field {name!r}")
        return default
    if kind is int and isinstance(value, bool):
        raise InvalidRequest(f"field {name!r} must be an integer")
    if not isinstance(value, kind):
        raise InvalidRequest(f"field {name!r} must be a {kind.__name__}")
    return value


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


_CURSOR = re.compile(r"s[0-9]{1,19}")


def decode_cursor(cursor: str) -> int:
    """The row number in a cursor from `encode_cursor`; anything else is a 400, never a 500
    (a number past SQLite's 64-bit integers could not be bound to a query)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        text = ""
    if not _CURSOR.fullmatch(text) or int(text[1:]) >= 2**63:
        raise InvalidRequest("cursor is not one this server issued: pass a next_cursor unchanged")
    return int(text[1:])


def query_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"query parameter {name!r} must be an integer") from None
    if not lo <= value <= hi:
        raise InvalidRequest(f"query parameter {name!r} must be {lo}..{hi}")
    return value
