"""Tokens, in-process: refresh rotation and replay revocation, revocation, forged JWTs, API
tokens, and request bodies that must get a 400 (never a 500). docs/security.md items 7, 8, 10, 11."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckrv.server import admin
from ckrv.server.identity.signing_key import load_signing_key
from tests.support.helpers import DEVICE_GRANT, add_user_direct, app_client, device_login, wait_for

EMAIL = "ada@example.com"
ISSUER = "http://127.0.0.1:8420"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(data_dir: Path) -> Iterator[Any]:
    with app_client(data_dir) as test_client:
        add_user_direct(data_dir, EMAIL)
        yield test_client


def refresh(client: Any, token: str) -> Any:
    return client.post(
        "/v1/auth/refresh", json={"grant_type": "refresh_token", "refresh_token": token}
    )


def me(client: Any, token: str) -> Any:
    return client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})


# --- refresh tokens ---


def test_refresh_rotates_and_a_replay_revokes_the_whole_login(client: Any, data_dir: Path) -> None:
    login = device_login(client, data_dir, EMAIL)
    other_login = device_login(client, data_dir, EMAIL)

    first = refresh(client, login["refresh_token"])
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != login["refresh_token"]
    assert rotated["access_token"] != login["access_token"]
    assert me(client, rotated["access_token"]).json()["email"] == EMAIL

    replay = refresh(client, login["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert "already used" in replay.json()["error_description"]
    # The replay revoked the chain: the legitimate holder's newer token is dead too...
    assert refresh(client, rotated["refresh_token"]).json()["error"] == "invalid_grant"
    # ...but another login of the same user is untouched.
    assert refresh(client, other_login["refresh_token"]).status_code == 200


def test_revoke_ends_the_login(client: Any, data_dir: Path) -> None:
    login = device_login(client, data_dir, EMAIL)
    rotated = refresh(client, login["refresh_token"]).json()
    revoked = client.post("/v1/auth/revoke", json={"token": rotated["refresh_token"]})
    assert revoked.status_code == 200 and revoked.json() == {"revoked": True}
    response = refresh(client, rotated["refresh_token"])
    assert response.status_code == 400 and "revoked" in response.json()["message"]
    # RFC 7009: an unknown token gets the same answer, so the endpoint reveals nothing.
    assert client.post("/v1/auth/revoke", json={"token": "nonsense"}).json() == {"revoked": True}


def test_refresh_chain_has_an_absolute_lifetime(data_dir: Path) -> None:
    with app_client(data_dir, refresh_token_ttl=1) as client:
        add_user_direct(data_dir, EMAIL)
        login = device_login(client, data_dir, EMAIL)
        current = login["refresh_token"]

        def expired() -> bool:
            nonlocal current
            response = refresh(client, current)
            if response.status_code == 200:
                current = response.json()["refresh_token"]  # rotation does not extend the chain
                return False
            return "expired" in response.json()["message"]

        wait_for(expired, timeout=10, interval=0.2, what="the login to expire")


def test_unknown_refresh_token_is_invalid_grant(client: Any) -> None:
    response = refresh(client, "ckrv_rt_" + "A" * 43)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


# --- forged and misused bearer tokens ---


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


@pytest.fixture
def forge(client: Any, data_dir: Path) -> dict[str, str]:
    """A valid access token and a catalogue of forged or misused ones for the same user."""
    login = device_login(client, data_dir, EMAIL)
    user_id = me(client, login["access_token"]).json()["id"]
    key = load_signing_key(data_dir)
    now = int(time.time())

    def claims(**changes: Any) -> dict[str, Any]:
        base = {"iss": ISSUER, "aud": "ckrv-api", "typ": "access", "sub": user_id}
        base.update(iat=now, exp=now + 300)
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    def signed(payload: dict[str, Any], private: Any = key.private, kid: str = key.kid) -> str:
        return jwt.encode(payload, private, algorithm="EdDSA", headers={"kid": kid})

    public_pem = key.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": key.kid}, claims())
    hs_sig = hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest()
    return {
        "valid": signed(claims()),
        "alg-none": _unsigned({"alg": "none", "typ": "JWT", "kid": key.kid}, claims()) + ".",
        "wrong-key": signed(claims(), private=Ed25519PrivateKey.generate()),
        "hs256-with-public-key": f"{hs_input}.{_b64(hs_sig)}",
        "unknown-kid": signed(claims(), kid="0123456789abcdef"),
        "expired": signed(claims(iat=now - 3600, exp=now - 60)),
        "wrong-audience": signed(claims(aud="ckrv-worker")),
        "other-audience": signed(claims(aud="https://elsewhere.example")),
        "wrong-issuer": signed(claims(iss="https://evil.example")),
        "worker-token": signed(claims(aud="ckrv-worker", typ="worker")),
        "no-typ": signed(claims(typ=None)),
        "no-exp": signed(claims(exp=None)),
        "refresh-token-as-bearer": login["refresh_token"],
        "tampered-claims": signed(claims()).rsplit(".", 2)[0]
        + "."
        + _b64(json.dumps(claims(sub="someone-else")).encode())
        + "."
        + signed(claims()).rsplit(".", 1)[1],
        "garbage": "not-a-token",
    }


def test_valid_access_token_is_accepted(client: Any, forge: dict[str, str]) -> None:
    assert me(client, forge["valid"]).json()["email"] == EMAIL


@pytest.mark.parametrize(
    "kind",
    [
        "alg-none",
        "wrong-key",
        "hs256-with-public-key",
        "unknown-kid",
        "expired",
        "wrong-audience",
        "other-audience",
        "wrong-issuer",
        "worker-token",
        "no-typ",
        "no-exp",
        "refresh-token-as-bearer",
        "tampered-claims",
        "garbage",
    ],
)
def test_forged_or_misused_token_gets_401(client: Any, forge: dict[str, str], kind: str) -> None:
    me(client, forge["valid"])  # a verified token is cached; the forged ones must not ride on it
    response = me(client, forge[kind])
    assert response.status_code == 401, (kind, response.text)
    assert response.json()["error"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic YTpi", "token abc"])
def test_missing_or_malformed_authorization_gets_401(client: Any, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/v1/users/me", headers=headers)
    assert response.status_code == 401
    assert "ckrv cloud login" in response.json()["message"]


# --- API tokens (ckrv admin token create) ---


def test_api_token_works_until_revoked_or_expired(client: Any, data_dir: Path) -> None:
    token_id, token = admin.create_token(data_dir, EMAIL, None)
    assert token.startswith("ckrv_pat_")
    assert me(client, token).json()["email"] == EMAIL
    admin.revoke_token(data_dir, token_id)
    assert me(client, token).status_code == 401

    _short_id, short = admin.create_token(data_dir, EMAIL, 0.5)
    wait_for(lambda: me(client, short).status_code == 401, timeout=5, what="expiry")
    assert me(client, "ckrv_pat_" + "x" * 43).status_code == 401


# --- bodies that must be refused with 400, never a 500 ---

_ENDPOINTS = ["/v1/auth/device", "/v1/auth/token", "/v1/auth/refresh", "/v1/auth/revoke"]


@pytest.mark.parametrize("path", _ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [b"", b"{not json", b"[1, 2]", b'"text"', b"null", b"{}", b"\xff\xfe", b'{"client_id": 5}'],
    ids=["empty", "malformed", "array", "string", "null", "missing-fields", "not-utf8", "types"],
)
def test_bad_bodies_get_400_with_an_error_body(client: Any, path: str, raw: bytes) -> None:
    response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request" and body["message"]


@pytest.mark.parametrize("path", ["/v1/auth/token", "/v1/auth/refresh"])
def test_wrong_grant_type_is_unsupported_grant_type(client: Any, path: str) -> None:
    body = {"grant_type": "password", "device_code": "x", "client_id": "c", "refresh_token": "x"}
    response = client.post(path, json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_oversized_body_gets_413(client: Any) -> None:
    response = client.post("/v1/auth/device", content=b"{" + b" " * (3 * 1024 * 1024) + b"}")
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"client_id": "'
        for _ in range(48):
            yield b"x" * 65536
        yield b'"}'

    response = client.post("/v1/auth/device", content=chunked())
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"


def test_client_id_length_is_bounded(client: Any) -> None:
    for client_id in ("", "x" * 101):
        response = client.post("/v1/auth/device", json={"client_id": client_id})
        assert response.status_code == 400


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
_bodies = st.dictionaries(
    st.sampled_from(["client_id", "grant_type", "device_code", "refresh_token", "token", "x"]),
    _json_values | st.just(DEVICE_GRANT) | st.just("refresh_token"),
    max_size=5,
)


def test_no_body_makes_the_auth_endpoints_fail_with_a_500(data_dir: Path) -> None:
    with app_client(data_dir) as client:

        @settings(
            max_examples=120,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,
        )
        @given(path=st.sampled_from(_ENDPOINTS), body=_bodies)
        def check(path: str, body: dict[str, Any]) -> None:
            response = client.post(path, json=body)
            assert response.status_code < 500, (path, body, response.text)
            if response.status_code >= 400:
                assert response.json()["error"]

        check()


def test_unknown_paths_and_methods_answer_json(client: Any) -> None:
    missing = client.get("/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong_method = client.get("/v1/auth/token")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"


def test_device_token_poll_with_unknown_code_is_invalid_grant(client: Any) -> None:
    body = {"grant_type": DEVICE_GRANT, "device_code": "nope", "client_id": "ckrv-cli"}
    response = client.post("/v1/auth/token", json=body)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
