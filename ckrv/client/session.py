"""A logged-in client: supplies a bearer token from `CKRV_TOKEN` or the token store, refreshing
the access token shortly before it expires. Refreshes are serialized across processes with a
file lock, so parallel `ckrv` commands do not spend one refresh token twice (docs/security.md item 9)."""

from __future__ import annotations

import hashlib
import os
import time

import httpx

from ckrv.client.api import Api, check_api_url, translate
from ckrv.client.tokenstore import StoredTokens, TokenStore
from ckrv.errors import NotAuthenticated
from ckrv.fileutil import private_dir

REFRESH_MARGIN = 60.0


def login_hint(api_url: str) -> NotAuthenticated:
    return NotAuthenticated(
        f"not logged in to {api_url}", hint="run `ckrv cloud login` (or set CKRV_TOKEN)"
    )


class Session:
    def __init__(self, api_url: str, store: TokenStore | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.store = store or TokenStore()
        self.env_token = os.environ.get("CKRV_TOKEN") or None
        self._tokens: StoredTokens | None = None  # loaded once; _refresh re-reads under its lock

    def api(self, *, timeout: float = 30.0) -> Api:
        api = Api(self.api_url, self.token, timeout=timeout)
        api.env_token = self.env_token is not None
        return api

    def token(self, force_refresh: bool = False) -> str | None:
        if self.env_token:
            return None if force_refresh else self.env_token
        tokens = self._tokens or self.store.load(self.api_url)
        if tokens is None:
            check_api_url(self.api_url)  # a wrong URL is why there is no login for it
            raise login_hint(self.api_url)
        if force_refresh or tokens.expires_at - time.time() < REFRESH_MARGIN:
            tokens = self._refresh(tokens)
        self._tokens = tokens
        return tokens.access_token

    def _lock_path(self) -> str:
        digest = hashlib.sha256(self.api_url.encode()).hexdigest()[:16]
        return str(private_dir(self.store.directory) / f"refresh-{digest}.lock")

    def _refresh(self, seen: StoredTokens) -> StoredTokens:
        from filelock import FileLock

        with FileLock(self._lock_path(), timeout=60):
            current = self.store.load(self.api_url)
            if current is None:
                raise login_hint(self.api_url)
            if (
                current.refresh_token != seen.refresh_token
                and current.expires_at - time.time() > REFRESH_MARGIN
            ):
                return current  # another process refreshed while we waited for the lock
            fresh = self._exchange(current.refresh_token)
            self.store.save(self.api_url, fresh)
            return fresh

    def _exchange(self, refresh_token: str) -> StoredTokens:
        api = Api(self.api_url)
        try:
            response = api.raw(
                "POST",
                "/auth/refresh",
                {},
                json={"grant_type": "refresh_token", "refresh_token": refresh_token},
            )
        finally:
            api.close()
        if response.status_code == 400:
            self.store.delete(self.api_url)
            raise NotAuthenticated(
                f"your login to {self.api_url} has ended ({translate(response).message})",
                hint="run `ckrv cloud login` again",
            )
        if response.status_code >= 400:
            raise translate(response)
        return tokens_from_response(response)


def tokens_from_response(response: httpx.Response) -> StoredTokens:
    body = response.json()
    return StoredTokens(
        body["access_token"],
        body.get("refresh_token", ""),
        time.time() + float(body.get("expires_in", 900)),
    )
