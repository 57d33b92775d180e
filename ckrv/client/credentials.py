"""Client calls for git credentials and agent secrets, and reading a secret value without it
ever passing through argv: from a file, from stdin when it is not a terminal, or from a hidden
prompt."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ckrv.client.api import Api
from ckrv.errors import UsageError

_PRIVATE_KEY_MARK = "PRIVATE KEY-----"


def read_value(what: str, from_file: Path | None, *, multiline: bool = False) -> str:
    """The value from `from_file`, from stdin when it is not a terminal, else a hidden prompt
    (one line only: a `multiline` value such as a private key must come from a file or stdin)."""
    if from_file is not None:
        try:
            value = from_file.read_text()
        except OSError as exc:
            raise UsageError(f"cannot read {from_file}: {exc.strerror}") from exc
    elif not sys.stdin.isatty():
        value = sys.stdin.read()
    elif multiline:
        raise UsageError(
            f"a {what.lower()} has several lines, which a prompt cannot take",
            hint="pass --from-file PATH, or pipe it: ... < ~/.ssh/deploy_key",
        )
    else:
        import click

        value = click.prompt(
            f"{what} (input hidden)", hide_input=True, default="", show_default=False
        )
    value = value if _PRIVATE_KEY_MARK in value else value.strip("\r\n")
    if not value.strip():
        raise UsageError(f"the {what.lower()} is empty")
    return value


def looks_like_private_key(value: str) -> bool:
    return _PRIVATE_KEY_MARK in value


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
