"""The credentials and secrets API on the app in-process (real SQLite, real key files): values
are write-only, names are checked, and another user's entries do not exist for you."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ckrv.server.admin import create_token
from tests.support.helpers import add_user_direct, app_client

SENTINEL_PAT = "ghp_SENTINELpat0123456789abcdefXYZ"
SENTINEL_SECRET = "sk-SENTINEL-secret-0123456789"


def deploy_key(directory: Path, passphrase: str = "") -> str:
    path = directory / f"key{len(list(directory.glob('key*')))}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "ckrv-test", "-f", str(path)],
        check=True,
    )
    return path.read_text()


class TwoUsers:
    """Two users on one app: `ada` and `bob`, each with a bearer token."""

    def __init__(self, client: Any, data_dir: Path) -> None:
        self.client, self.data_dir = client, data_dir
        self.tokens = {}
        for name in ("ada", "bob"):
            add_user_direct(data_dir, f"{name}@example.com")
            self.tokens[name] = create_token(data_dir, f"{name}@example.com", None)[1]
        self.responses: list[str] = []

    def call(self, user: str | None, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        response = self.client.request(method, f"/v1{path}", headers=headers, **kw)
        self.responses.append(response.text)
        return response


@pytest.fixture
def users(tmp_path: Path) -> Iterator[TwoUsers]:
    with app_client(tmp_path / "data") as client:
        yield TwoUsers(client, tmp_path / "data")


def pat(name: str, value: str = SENTINEL_PAT, provider: str = "github") -> dict[str, str]:
    return {"name": name, "provider": provider, "credential_type": "pat", "value": value}


def test_credentials_are_added_listed_and_removed_without_their_values(users: TwoUsers) -> None:
    created = users.call("ada", "POST", "/credentials", json=pat("github-work"))
    assert created.status_code == 201
    assert created.json() == {
        "name": "github-work",
        "provider": "github",
        "credential_type": "pat",
        "created_at": created.json()["created_at"],
        "last_used_at": None,
    }
    listed = users.call("ada", "GET", "/credentials").json()["credentials"]
    assert [c["name"] for c in listed] == ["github-work"]
    assert users.call("ada", "DELETE", "/credentials/github-work").status_code == 204
    assert users.call("ada", "GET", "/credentials").json() == {"credentials": []}
    assert users.call("ada", "DELETE", "/credentials/github-work").status_code == 404
    assert not any(SENTINEL_PAT in text for text in users.responses)


def test_a_duplicate_name_is_a_conflict(users: TwoUsers) -> None:
    assert users.call("ada", "POST", "/credentials", json=pat("dup")).status_code == 201
    again = users.call("ada", "POST", "/credentials", json=pat("dup", value="other-token-123"))
    assert again.status_code == 409 and "dup" in again.json()["message"]
    # names are per user: bob may use the same one
    assert users.call("bob", "POST", "/credentials", json=pat("dup")).status_code == 201


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (pat("Bad_Name"), "a-z, 0-9"),
        (pat("x" * 51), "a-z, 0-9"),
        (pat("ok", provider="sourceforge"), "provider must be one of"),
        ({**pat("ok"), "credential_type": "password"}, "credential_type must be one of"),
        (pat("ok", value="   "), "empty"),
        (pat("ok", value="two words"), "one line"),
        ({**pat("ok"), "credential_type": "deploy_key", "value": "not a key"}, "private key"),
        ({"name": "ok", "provider": "github", "credential_type": "pat"}, "value"),
    ],
)
def test_invalid_credentials_are_refused_with_a_reason(
    users: TwoUsers, body: dict[str, str], says: str
) -> None:
    response = users.call("ada", "POST", "/credentials", json=body)
    assert response.status_code == 400, response.text
    assert says in response.json()["message"]


def test_deploy_keys_must_be_usable_by_a_job(users: TwoUsers, tmp_path: Path) -> None:
    good = {
        "name": "deploy",
        "provider": "generic",
        "credential_type": "deploy_key",
        "value": deploy_key(tmp_path),
    }
    assert users.call("ada", "POST", "/credentials", json=good).status_code == 201
    locked = {**good, "name": "locked", "value": deploy_key(tmp_path, passphrase="hunter22")}
    refused = users.call("ada", "POST", "/credentials", json=locked)
    assert refused.status_code == 400 and "passphrase" in refused.json()["message"]


def test_secrets_are_set_replaced_listed_by_name_and_removed(users: TwoUsers) -> None:
    first = users.call("ada", "PUT", "/secrets/ANTHROPIC_API_KEY", json={"value": SENTINEL_SECRET})
    assert first.status_code == 201 and first.json()["name"] == "ANTHROPIC_API_KEY"
    again = users.call(
        "ada", "PUT", "/secrets/ANTHROPIC_API_KEY", json={"value": SENTINEL_SECRET + "2"}
    )
    assert again.status_code == 200
    assert again.json()["created_at"] == first.json()["created_at"]
    listed = users.call("ada", "GET", "/secrets").json()["secrets"]
    assert [s["name"] for s in listed] == ["ANTHROPIC_API_KEY"] and set(listed[0]) == {
        "name",
        "created_at",
        "updated_at",
    }
    assert users.call("ada", "DELETE", "/secrets/ANTHROPIC_API_KEY").status_code == 204
    assert users.call("ada", "DELETE", "/secrets/ANTHROPIC_API_KEY").status_code == 404
    assert not any(SENTINEL_SECRET in text for text in users.responses)


@pytest.mark.parametrize(
    "name", ["lower", "1ABC", "WITH-DASH", "A" * 129, "CKRV_TOKEN", "GIT_ASKPASS"]
)
def test_secret_names_must_be_environment_variable_names(users: TwoUsers, name: str) -> None:
    response = users.call("ada", "PUT", f"/secrets/{name}", json={"value": SENTINEL_SECRET})
    assert response.status_code == 400, response.text


def test_secret_values_must_be_non_empty_strings(users: TwoUsers) -> None:
    assert users.call("ada", "PUT", "/secrets/EMPTY", json={"value": ""}).status_code == 400
    assert users.call("ada", "PUT", "/secrets/NUMBER", json={"value": 42}).status_code == 400
    assert users.call("ada", "PUT", "/secrets/NONE", json={}).status_code == 400


def test_a_users_secrets_are_capped_in_total_with_the_numbers_said(users: TwoUsers) -> None:
    cap = 64 * 1024  # max_secrets_bytes' default
    value = "v" * (30 * 1024)
    assert users.call("ada", "PUT", "/secrets/FIRST", json={"value": value}).status_code == 201
    assert users.call("ada", "PUT", "/secrets/SECOND", json={"value": value}).status_code == 201
    third = users.call("ada", "PUT", "/secrets/THIRD", json={"value": "w" * 8 * 1024})
    assert third.status_code == 413, third.text
    message = third.json()["message"]
    used = 2 * len(value) + len("FIRST") + len("SECOND")
    assert f"{used + len('THIRD') + 8 * 1024} bytes" in message and str(cap) in message
    assert "max_secrets_bytes" in message
    assert [s["name"] for s in users.call("ada", "GET", "/secrets").json()["secrets"]] == [
        "FIRST",
        "SECOND",
    ]
    # replacing a secret counts its new value instead of the old one; others have their own cap
    assert (
        users.call("ada", "PUT", "/secrets/SECOND", json={"value": "x" * 1000}).status_code == 200
    )
    assert users.call("ada", "PUT", "/secrets/THIRD", json={"value": value}).status_code == 201
    assert users.call("bob", "PUT", "/secrets/FIRST", json={"value": value}).status_code == 201


def test_another_users_credentials_and_secrets_are_not_found(users: TwoUsers) -> None:
    assert users.call("ada", "POST", "/credentials", json=pat("mine")).status_code == 201
    assert (
        users.call("ada", "PUT", "/secrets/MY_KEY", json={"value": SENTINEL_SECRET}).status_code
        == 201
    )
    assert users.call("bob", "GET", "/credentials").json() == {"credentials": []}
    assert users.call("bob", "GET", "/secrets").json() == {"secrets": []}
    assert users.call("bob", "DELETE", "/credentials/mine").status_code == 404
    assert users.call("bob", "DELETE", "/secrets/MY_KEY").status_code == 404
    # bob setting a secret of the same name makes his own; ada's stays
    assert (
        users.call("bob", "PUT", "/secrets/MY_KEY", json={"value": "bobs-own-value"}).status_code
        == 201
    )
    assert [s["name"] for s in users.call("ada", "GET", "/secrets").json()["secrets"]] == ["MY_KEY"]
    assert [c["name"] for c in users.call("ada", "GET", "/credentials").json()["credentials"]] == [
        "mine"
    ]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/credentials", None),
        ("POST", "/credentials", pat("x")),
        ("DELETE", "/credentials/x", None),
        ("GET", "/secrets", None),
        ("PUT", "/secrets/X_KEY", {"value": "whatever-value"}),
        ("DELETE", "/secrets/X_KEY", None),
    ],
)
def test_every_route_needs_a_valid_token(
    users: TwoUsers, method: str, path: str, body: Any
) -> None:
    assert users.call(None, method, path, json=body).status_code == 401
    forged = users.client.request(
        method,
        f"/v1{path}",
        json=body,
        headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."},
    )
    assert forged.status_code == 401


def test_the_database_never_holds_a_value_in_clear(users: TwoUsers) -> None:
    users.call("ada", "POST", "/credentials", json=pat("gh"))
    users.call("ada", "PUT", "/secrets/SENTINEL", json={"value": SENTINEL_SECRET})
    users.call("ada", "GET", "/credentials")
    stored = b"".join(p.read_bytes() for p in users.data_dir.glob("ckrv.db*"))
    assert b"github" in stored  # the metadata is there...
    assert SENTINEL_PAT.encode() not in stored and SENTINEL_SECRET.encode() not in stored
    assert not any(SENTINEL_PAT in t or SENTINEL_SECRET in t for t in users.responses)
