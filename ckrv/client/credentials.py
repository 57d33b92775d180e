"""Client calls for git credentials and agent secrets."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ckrv.client.api import Api


def add_credential(
    api: Api, name: str, provider: str, credential_type: str, value: str
) -> dict[str, Any]:
    body = {"name": name, "provider": provider, "credential_type": credential_type, "value": value}
    stored: dict[str, Any] = api.post("/credentials", body)
    return stored


def list_credentials(api: Api) -> list[dict[str, Any]]:
    return api.get("/credentials")["credentials"]  # type: ignore[no-any-return]


def remove_credential(api: Api, name: str) -> None:
    api.send("DELETE", f"/credentials/{quote(name, safe='')}")


def set_secret(api: Api, name: str, value: str) -> tuple[dict[str, Any], bool]:
    """(the secret's summary, whether it was created rather than replaced)."""
    response = api.send("PUT", f"/secrets/{quote(name, safe='')}", json={"value": value})
    return response.json(), response.status_code == 201


def list_secrets(api: Api) -> list[dict[str, Any]]:
    return api.get("/secrets")["secrets"]  # type: ignore[no-any-return]


def remove_secret(api: Api, name: str) -> None:
    api.send("DELETE", f"/secrets/{quote(name, safe='')}")
