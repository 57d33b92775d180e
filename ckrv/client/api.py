"""The HTTP client every command uses. httpx errors and error statuses are translated here, at
the boundary, into ckrv's exception tree (and so into exit codes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ckrv import __version__
from ckrv.errors import (
    WIRE_ERRORS,
    ApiError,
    CkrvError,
    Expired,
    NotAuthenticated,
    NotFound,
    QuotaExceeded,
    ServerUnreachable,
    UsageError,
)

TokenSource = Callable[[bool], str | None]
"""Returns a bearer token; called with True after a 401 to ask for a refreshed one."""

# The class for an error status whose body names no code this client knows.
_BY_STATUS: dict[int, type[CkrvError]] = {
    401: NotAuthenticated,
    402: QuotaExceeded,
    404: NotFound,
    410: Expired,
}


def _body(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """The message to show and the body's fields (none when the body is not a JSON object)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase, {}
    if not isinstance(body, dict):
        return str(body)[:500], {}
    return str(body.get("message") or body.get("error_description") or body.get("error")), body


def translate(response: httpx.Response, *, env_token: bool = False) -> CkrvError:
    """The typed error of an error response, built from its body's `error` code and fields; by
    its status when the code is not one this client knows at that status. `env_token`: the
    request carried the token from CKRV_TOKEN (a 401 then says that token was refused)."""
    message, body = _body(response)
    status = response.status_code
    code = body.get("error")
    hint = None
    if status == 401 and env_token:
        message = f"the token in CKRV_TOKEN was refused by the server: {message}"
        hint = (
            "create a new one (`ckrv admin token create EMAIL`), or unset CKRV_TOKEN to use "
            "your `ckrv cloud login`"
        )
    elif status == 401:
        message = f"not logged in to {response.request.url.host}: {message}"
        hint = "run `ckrv cloud login` (or set CKRV_TOKEN)"
    cls = WIRE_ERRORS.get(code) if isinstance(code, str) else None
    if cls is None or cls.status != status:
        cls = _BY_STATUS.get(status)
    if cls is None:
        return ApiError(message, status=status, code=code if isinstance(code, str) else None)
    return cls.from_wire(message, body, hint=hint)


class Api:
    def __init__(
        self, api_url: str, token: TokenSource | None = None, *, timeout: float = 30.0
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self.env_token = False  # the token comes from CKRV_TOKEN (set by Session)
        self._http = httpx.Client(
            base_url=self.api_url, timeout=timeout, headers={"User-Agent": f"ckrv/{__version__}"}
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _headers(self, refresh: bool, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        token = self._token(refresh) if self._token else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def unreachable(self, exc: Exception) -> ServerUnreachable:
        return ServerUnreachable(
            f"cannot reach the ckrv server at {self.api_url} ({type(exc).__name__}: {exc})",
            hint="check that `ckrv serve` is running there, and --api-url or CHAKRAVARTI_API_URL",
        )

    def send(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request; error statuses raise. A 401 is retried once with a refreshed token."""
        response = self.raw(method, path, self._headers(False, headers), **kwargs)
        if response.status_code == 401 and self._token is not None:
            retry_headers = self._headers(True, headers)
            if retry_headers.get("Authorization"):
                response = self.raw(method, path, retry_headers, **kwargs)
        if response.status_code >= 400:
            raise self.error(response)
        return response

    def error(self, response: httpx.Response) -> CkrvError:
        """The error of an error response; a 404 that is not one of ckrv's own (a JSON body
        with an `error` code), from a URL without `/v1` or not a ckrv server at all, says so."""
        if response.status_code == 404 and not _ckrv_error(response):
            check_api_url(self.api_url)
        return translate(response, env_token=self.env_token)

    def raw(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from exc

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.send("GET", path, **kwargs).json()

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        response = self.send("POST", path, json=json, **kwargs)
        return response.json() if response.content else None

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        headers = self._headers(False, kwargs.pop("headers", None))
        try:
            with self._http.stream(method, path, headers=headers, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self.error(response)
                yield response
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from exc


def check_api_url(api_url: str) -> None:
    """Raise what is wrong with `api_url` when that is clear: nothing answers there
    (ServerUnreachable), a ckrv server does but the URL lacks its `/v1`, or what answers is no
    ckrv API (UsageError). A URL that serves ckrv's API passes: the caller's error stands."""
    base = api_url.rstrip("/")
    try:
        with httpx.Client(timeout=10.0) as http:
            if _is_ckrv_api(http, base):
                return
            if not base.endswith("/v1") and _is_ckrv_api(http, base + "/v1"):
                raise UsageError(
                    f"{base} is a ckrv server, but its API is under /v1",
                    hint=f"use --api-url {base}/v1 (or set CHAKRAVARTI_API_URL={base}/v1)",
                )
    except httpx.TransportError as exc:
        raise Api(base).unreachable(exc) from exc
    raise UsageError(
        f"{base} answers, but not as a ckrv server's API (it has no {base}/openapi.json)",
        hint="check --api-url or CHAKRAVARTI_API_URL: `ckrv serve` prints its API URL, which "
        "ends in /v1",
    )


def _ckrv_error(response: httpx.Response) -> bool:
    """Whether the response's body is a ckrv error (`{"error": CODE, "message": ...}`); a ckrv
    server's own 404 for an unknown path is one too, so a URL without /v1 is also probed."""
    try:
        body = response.json()
    except ValueError:
        return False
    path = response.request.url.path
    return isinstance(body, dict) and "error" in body and "/v1/" in path


def _is_ckrv_api(http: httpx.Client, api_url: str) -> bool:
    """Whether `api_url` serves ckrv's API (its OpenAPI document is there)."""
    response = http.get(f"{api_url}/openapi.json")
    if response.status_code != 200:
        return False
    try:
        return "openapi" in response.json()
    except ValueError:
        return False
