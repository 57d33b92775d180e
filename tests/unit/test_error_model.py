"""The one error model: each error class renders as its status and body on the server, and the
client builds the same class back from that body (never from its message)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from ckrv import errors
from ckrv.client.api import translate
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
    (
        errors.UnknownFields("m", unknown=["netwrok"], accepted=["network", "spec_content"]),
        400,
        {
            "error": "unknown_fields",
            "unknown_fields": ["netwrok"],
            "accepted_fields": ["network", "spec_content"],
        },
    ),
    (errors.PayloadTooLarge("m"), 413, {"error": "payload_too_large"}),
    (errors.RequestTimeout("m"), 408, {"error": "request_timeout"}),
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
        422,
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
    (errors.RateLimited("m", retry_after=7), 429, {"error": "rate_limited", "retry_after": 7}),
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
    assert response.status_code == 422
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


# --- the client's side: a body's code and fields -> the typed error and its exit code ---


def _response(status: int, body: Any = None, *, text: str | None = None) -> httpx.Response:
    request = httpx.Request("POST", "http://ckrv.example:8420/v1/jobs")
    if text is not None:
        return httpx.Response(status, text=text, request=request)
    return httpx.Response(status, json=body, request=request)


@pytest.mark.parametrize("case", RENDERED, ids=_id)
def test_the_client_builds_back_the_class_the_server_rendered(
    case: tuple[CkrvError, int, dict[str, Any]],
) -> None:
    error, status, _ = case
    rendered = error_response(error)
    back = translate(_response(status, json.loads(bytes(rendered.body))))
    assert type(back) is errors.WIRE_ERRORS[error.code]
    assert back.exit_code == {401: 3, 402: 5, 404: 4, 410: 4, 422: 4}.get(status, 1)
    assert back.status == status and back.code == error.code
    assert back.fields() == error.fields()


def test_a_quota_body_gives_its_reset_time_and_upgrade_url_and_exit_5() -> None:
    error = translate(
        _response(
            402,
            {
                "error": "quota_exceeded",
                "message": "the words here are not read",
                "quota_resets_at": RESETS,
                "upgrade_url": UP,
            },
        )
    )
    assert isinstance(error, errors.QuotaExceeded)
    assert (error.resets_at, error.upgrade_url, error.exit_code) == (RESETS, UP, 5)
    assert error.hint == f"upgrade: {UP}"


def test_a_missing_credential_body_gives_the_users_credentials_and_exit_4() -> None:
    error = translate(
        _response(
            422,
            {"error": "credential_not_found", "message": "no", "credentials": ["a", "b"]},
        )
    )
    assert isinstance(error, errors.CredentialNotFound)
    assert error.credentials == ["a", "b"] and error.exit_code == 4


def test_a_401_says_which_server_and_how_to_log_in_and_exits_3() -> None:
    error = translate(_response(401, {"error": "invalid_token", "message": "token has expired"}))
    assert isinstance(error, errors.InvalidToken) and error.exit_code == 3
    assert error.message == "not logged in to ckrv.example: token has expired"
    assert error.hint is not None and "ckrv cloud login" in error.hint


@pytest.mark.parametrize(
    ("response", "cls", "exit_code"),
    [
        (_response(404, {"error": "gone_somewhere", "message": "m"}), errors.NotFound, 4),
        (_response(410, {"error": "gone_somewhere", "message": "m"}), errors.Expired, 4),
        (_response(401, text="Unauthorized"), errors.NotAuthenticated, 3),
        (_response(402, {"message": "pay"}), errors.QuotaExceeded, 5),
        (_response(405, {"error": "method_not_allowed", "message": "m"}), errors.ApiError, 1),
        (_response(502, text="<html>bad gateway</html>"), errors.ApiError, 1),
        # a known code at a status the server never sends it with is not trusted
        (_response(500, {"error": "not_found", "message": "m"}), errors.ApiError, 1),
    ],
)
def test_a_body_without_a_known_code_is_typed_by_its_status(
    response: httpx.Response, cls: type[CkrvError], exit_code: int
) -> None:
    error = translate(response)
    assert type(error) is cls and error.exit_code == exit_code
    assert error.status == response.status_code or cls is not errors.ApiError


def test_an_unknown_answer_keeps_its_status_and_code() -> None:
    error = translate(_response(503, {"error": "overloaded", "message": "busy"}))
    assert isinstance(error, errors.ApiError)
    assert (error.status, error.code, error.message) == (503, "overloaded", "busy")


def test_every_wire_code_names_one_class_whose_code_it_is() -> None:
    assert all(cls.code == code for code, cls in errors.WIRE_ERRORS.items())
    assert all(cls.status < 500 for cls in errors.WIRE_ERRORS.values())


def test_the_cli_shows_the_servers_quota_message_as_is_and_the_reset_in_local_time() -> None:
    from ckrv.client.jobs import quota_error

    said = "job quota of the free tier (10 jobs per month) is used up; it resets at " + RESETS
    refused = translate(
        _response(
            402,
            {
                "error": "quota_exceeded",
                "message": said,
                "quota_resets_at": RESETS,
                "upgrade_url": None,
            },
        )
    )
    assert isinstance(refused, errors.QuotaExceeded)
    shown = quota_error(refused)
    assert shown.message == said and shown.exit_code == 5
    assert shown.hint is not None and shown.hint.startswith("it resets on 20")
    assert "(in " in shown.hint and "larger tier" in shown.hint
