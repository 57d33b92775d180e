"""The HTTP client every command uses. httpx errors and error statuses are translated here, at
the boundary, into ckrv's exception tree (and so into exit codes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ckrv import __version__
from ckrv.errors import (
    ApiError,
    CkrvError,
    NotAuthenticated,
    NotFound,
    QuotaExceeded,
    ServerUnreachable,
)

TokenSource = Callable[[bool], str | None]
"""Returns a bearer token; called with True after a 401 to ask for a refreshed one."""


def _message(response: httpx.Response) -> tuple[str, str | None, dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase, None, {}
    if not isinstance(body, dict):
        return str(body)[:500], None, {}
    return (
        str(body.get("message") or body.get("error_description") or body.get("error")),
        body.get("error"),
        body,
    )


def translate(response: httpx.Response) -> CkrvError:
    message, code, body = _message(response)
    status = response.status_code
    if status == 401:
        return NotAuthenticated(
            f"not logged in to {response.request.url.host}: {message}",
            hint="run `ckrv cloud login` (or set CKRV_TOKEN)",
        )
    if status in (404, 410):
        return NotFound(message)
    if status == 402:
        error = QuotaExceeded(
            message, hint=f"upgrade: {body['upgrade_url']}" if body.get("upgrade_url") else None
        )
        error.body = body  # type: ignore[attr-defined]
        return error
    return ApiError(message, status=status, code=code)


class Api:
    def __init__(
        self, api_url: str, token: TokenSource | None = None, *, timeout: float = 30.0
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
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
            raise translate(response)
        return response

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
                    raise translate(response)
                yield response
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from exc
