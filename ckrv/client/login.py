"""The CLI side of the device flow (RFC 8628 §3.4-3.5): ask for a code, then poll honouring
`interval`, adding 5 s on `slow_down`, stopping on `access_denied` or `expired_token`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ckrv.client.api import Api, translate
from ckrv.client.session import tokens_from_response
from ckrv.client.tokenstore import StoredTokens
from ckrv.errors import (
    AccessDenied,
    AuthorizationPending,
    CkrvError,
    ExpiredToken,
    SlowDown,
)

CLIENT_ID = "ckrv-cli"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True)
class DeviceGrant:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


def start(api: Api) -> DeviceGrant:
    body = api.post("/auth/device", {"client_id": CLIENT_ID})
    return DeviceGrant(
        body["device_code"],
        body["user_code"],
        body["verification_uri"],
        body.get("verification_uri_complete", body["verification_uri"]),
        int(body["expires_in"]),
        int(body["interval"]),
    )


def wait_for_tokens(
    api: Api,
    grant: DeviceGrant,
    *,
    sleep: Callable[[float], None] = time.sleep,
    tick: Callable[[], None] | None = None,
) -> StoredTokens:
    interval = float(grant.interval)
    deadline = time.monotonic() + grant.expires_in
    while time.monotonic() < deadline:
        waited = 0.0
        while waited < interval:  # wake often so the spinner turns
            step = min(0.1, interval - waited)
            sleep(step)
            waited += step
            if tick:
                tick()
        response = api.raw(
            "POST",
            "/auth/token",
            {},
            json={
                "grant_type": DEVICE_GRANT,
                "device_code": grant.device_code,
                "client_id": CLIENT_ID,
            },
        )
        if response.status_code == 200:
            return tokens_from_response(response)
        error = translate(response)
        if isinstance(error, AuthorizationPending):
            continue
        if isinstance(error, SlowDown):
            interval += 5
            continue
        if isinstance(error, AccessDenied):
            raise CkrvError("the login was denied in the browser")
        if isinstance(error, ExpiredToken):
            raise CkrvError(
                "the code expired before it was approved", hint="run `ckrv cloud login` again"
            )
        raise error
    raise CkrvError("the code expired before it was approved", hint="run `ckrv cloud login` again")
