"""Building blocks of the OpenAPI description shared by every paths module: references,
response shapes, parameters, and the schemas several groups of routes use."""

from __future__ import annotations

from typing import Any

from ckrv.server.web.errors import OAUTH_CODES

S = dict[str, Any]


def ref(name: str) -> S:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: S) -> S:
    return {"content": {"application/json": {"schema": schema}}}


def ok(schema: S, description: str = "OK") -> S:
    return {"description": description, **json_content(schema)}


ERROR = ok(ref("Error"), "Error")
AUTH_ERRORS = {
    "401": {"description": "Missing, expired or invalid token", **json_content(ref("Error"))},
    "403": {
        "description": "The account is disabled (`account_disabled`): an administrator must "
        "enable it",
        **json_content(ref("Error")),
    },
}


def body(schema: S) -> S:
    return {"required": True, **json_content(schema)}


def path_param(name: str, description: str = "") -> S:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


_NULLABLE_STR = {"type": ["string", "null"]}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: S = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "error_description": {"type": "string"},
            "unknown_fields": {
                "type": "array",
                "items": {"type": "string"},
                "description": "`unknown_fields`: the body's keys the route does not take",
            },
            "accepted_fields": {
                "type": "array",
                "items": {"type": "string"},
                "description": "`unknown_fields`: the keys it takes",
            },
        },
    },
    "DeviceCodeResponse": {
        "type": "object",
        "required": ["device_code", "user_code", "verification_uri", "expires_in", "interval"],
        "properties": {
            "device_code": {"type": "string"},
            "user_code": {"type": "string"},
            "verification_uri": {"type": "string", "format": "uri"},
            "verification_uri_complete": {"type": "string", "format": "uri"},
            "expires_in": {"type": "integer"},
            "interval": {"type": "integer"},
        },
    },
    "TokenResponse": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string"},
            "refresh_token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer"},
        },
    },
    "TokenErrorResponse": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "string",
                "enum": list(OAUTH_CODES),
            },
            "error_description": {"type": "string"},
            "message": {"type": "string"},
        },
    },
    "User": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "email": {"type": "string"},
            "name": {"type": ["string", "null"], "description": "null when none was given"},
            "subscription_tier": {"type": "string", "enum": ["free", "pro", "enterprise"]},
            "job_quota_remaining": {"type": "integer"},
            "jobs_used": {"type": "integer"},
            "billing_cycle_end": {"type": "string", "format": "date-time"},
        },
    },
}
