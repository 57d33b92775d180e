"""OpenAPI description of routes/credentials.py."""

from __future__ import annotations

from ckrv.contracts.credentials import CREDENTIAL_TYPES, PROVIDERS
from ckrv.server.apidocs.paths.shared import AUTH_ERRORS, ERROR, body, ok, path_param, ref
from ckrv.server.vault import store

_NAME = {"type": "string", "pattern": store.CREDENTIAL_NAME.pattern, "example": "github-work"}
openapi_schemas = {
    "CredentialSummary": {
        "type": "object",
        "required": ["name", "provider", "credential_type", "created_at", "last_used_at"],
        "properties": {
            "name": {"type": "string"},
            "provider": {"type": "string", "enum": list(PROVIDERS)},
            "credential_type": {"type": "string", "enum": list(CREDENTIAL_TYPES)},
            "created_at": {"type": "string", "format": "date-time"},
            "last_used_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "CredentialCreate": {
        "type": "object",
        "description": "Other keys are refused (400 `unknown_fields`, naming them).",
        "additionalProperties": False,
        "required": ["name", "provider", "credential_type", "value"],
        "properties": {
            "name": _NAME,
            "provider": {"type": "string", "enum": list(PROVIDERS)},
            "credential_type": {"type": "string", "enum": list(CREDENTIAL_TYPES)},
            "value": {
                "type": "string",
                "minLength": 1,
                "writeOnly": True,
                "description": "The PAT, or the deploy key's private key (write-only, "
                "never returned)",
            },
        },
    },
}
openapi_paths = {
    "/credentials": {
        "get": {
            "tags": ["Credentials"],
            "summary": "List git credentials (names only, no values)",
            "responses": {
                "200": ok(
                    {
                        "type": "object",
                        "required": ["credentials"],
                        "properties": {
                            "credentials": {"type": "array", "items": ref("CredentialSummary")}
                        },
                    }
                ),
                **AUTH_ERRORS,
            },
        },
        "post": {
            "tags": ["Credentials"],
            "summary": "Add a git credential (PAT or deploy key)",
            "requestBody": body(ref("CredentialCreate")),
            "responses": {
                "201": ok(ref("CredentialSummary"), "Credential created"),
                "400": ERROR,
                **AUTH_ERRORS,
                "409": ok(ref("Error"), "A credential with this name exists"),
            },
        },
    },
    "/credentials/{name}": {
        "delete": {
            "tags": ["Credentials"],
            "summary": "Delete a git credential",
            "parameters": [path_param("name", "The credential's name")],
            "responses": {
                "204": {"description": "Credential deleted"},
                **AUTH_ERRORS,
                "404": ok(ref("Error"), "No credential of yours has this name"),
            },
        },
    },
}
