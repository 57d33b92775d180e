"""The one error model: each error class renders as its status and body on the server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from ckrv import errors
from ckrv.errors import CkrvError
from ckrv.server.storage.artifacts import ArtifactTooLarge
from ckrv.server.vault.store import AlreadyExists
from ckrv.server.web.errors import EXCEPTION_HANDLERS, error_response

RESETS = "2027-01-01T00:00:00Z"
UP = "https://up.example/pricing"

# (the error a domain module raises, its status, its body besides "message")
RENDERED: list[tuple[CkrvError, int, dict[str, Any]]] = [
    (errors.InvalidRequest("m"), 400, {"error": "invalid_request", "error_description": "m"}),
    (errors.UsageError("m"), 400, {"error": "invalid_request", "error_description": "m"}),
    (errors.CredentialMismatch("m"), 400, {"error": "credential_mismatch"}),
    (errors.PayloadTooLarge("m"), 413, {"error": "payload_too_large"}),
    (ArtifactTooLarge("m"), 413, {"error": "payload_too_large"}),
    (errors.Conflict("m"), 409, {"error": "conflict"}),
    (AlreadyExists("m"), 409, {"error": "conflict"}),
    (errors.Superseded("m"), 409, {"error": "superseded"}),
    (errors.JobEnded("m"), 409, {"error": "job_ended"}),
    (errors.NotAuthenticated("m"), 401, {"error": "unauthorized"}),
    (errors.InvalidToken("m"), 401, {"error": "invalid_token"}),
    (errors.NotFound("m"), 404, {"error": "not_found"}),
    (
        errors.CredentialNotFound("m", credentials=["work", "home"]),
        404,
        {"error": "credential_not_found", "credentials": ["work", "home"]},
    ),
    (errors.NotFinished("m"), 404, {"error": "not_finished"}),
    (errors.NoDiff("m"), 404, {"error": "no_diff"}),
    (errors.Expired("m"), 410, {"error": "expired"}),
    (errors.ArtifactExpired("m"), 410, {"error": "artifact_expired"}),
    (
        errors.QuotaExceeded("m", resets_at=RESETS, upgrade_url=UP),
        402,
        {"error": "quota_exceeded", "quota_resets_at": RESETS, "upgrade_url": UP},
    ),
    (
        errors.QuotaExceeded("m", resets_at=RESETS),
        402,
        {"error": "quota_exceeded", "quota_resets_at": RESETS, "upgrade_url": None},
    ),
    *[
        (cls("m"), 400, {"error": code, "error_description": "m"})
        for cls, code in [
            (errors.AuthorizationPending, "authorization_pending"),
            (errors.SlowDown, "slow_down"),
            (errors.ExpiredToken, "expired_token"),
            (errors.AccessDenied, "access_denied"),
            (errors.InvalidGrant, "invalid_grant"),
            (errors.UnsupportedGrantType, "unsupported_grant_type"),
        ]
    ],
]


def _id(case: tuple[CkrvError, int, dict[str, Any]]) -> str:
    return type(case[0]).__name__


@pytest.mark.parametrize("case", RENDERED, ids=_id)
def test_each_error_renders_as_its_status_and_body(
    case: tuple[CkrvError, int, dict[str, Any]],
) -> None:
    error, status, body = case
    response = error_response(error)
    assert response.status_code == status
    assert json.loads(bytes(response.body)) == {"message": "m", **body}
    challenge = response.headers.get("www-authenticate")
    assert challenge == ('Bearer realm="ckrv"' if status == 401 else None)


def _app(raised: Exception) -> TestClient:
    async def fail(request: Request) -> Response:
        raise raised

    app = Starlette(routes=[Route("/fail", fail)], exception_handlers=EXCEPTION_HANDLERS)
    return TestClient(app, raise_server_exceptions=False)


def test_the_registered_handler_answers_for_a_route_that_raises() -> None:
    error = errors.CredentialNotFound("no git credential named 'x'", credentials=["work"])
    with _app(error) as client:
        response = client.get("/fail")
    assert response.status_code == 404
    assert response.json() == {
        "error": "credential_not_found",
        "message": "no git credential named 'x'",
        "credentials": ["work"],
    }


@pytest.mark.parametrize(
    "failure", [CkrvError("stored key 3 does not decrypt"), errors.ConfigError("bad")]
)
def test_an_error_without_an_answer_is_a_plain_500_that_does_not_leak_its_message(
    failure: CkrvError,
) -> None:
    with _app(failure) as client:
        response = client.get("/fail")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


def test_starlettes_own_404_and_405_keep_their_bodies() -> None:
    with _app(errors.NotFound("x")) as client:
        missing, wrong_method = client.get("/nowhere"), client.post("/fail")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "Not Found"}
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "method_not_allowed", "message": "Method Not Allowed"}
    assert set(wrong_method.headers["allow"].split(", ")) == {"GET", "HEAD"}
