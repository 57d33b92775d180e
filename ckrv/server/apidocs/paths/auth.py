"""OpenAPI description of routes/auth.py."""

from __future__ import annotations

from ckrv.server.apidocs.paths.shared import AUTH_ERRORS, ERROR, body, json_content, ok, ref
from ckrv.server.identity.device_flow import DEVICE_GRANT

_TOKEN_ERRORS = {"400": ok(ref("TokenErrorResponse"), "Pending, denied, expired or invalid")}
# What routes/auth.py does with keys it does not know, unlike the other routes.
_OAUTH_OPEN = (
    "Other keys are ignored, as an OAuth server must (RFC 6749 §3.2): a client may send "
    "standard ones this server does not use, such as `scope`."
)

openapi_paths = {
    "/auth/device": {
        "post": {
            "tags": ["Auth"],
            "summary": "Start the device authorization flow (RFC 8628)",
            "security": [],
            "requestBody": body(
                {
                    "type": "object",
                    "description": _OAUTH_OPEN,
                    "required": ["client_id"],
                    "properties": {
                        "client_id": {"type": "string", "minLength": 1, "maxLength": 100}
                    },
                }
            ),
            "responses": {
                "200": ok(ref("DeviceCodeResponse")),
                "400": ERROR,
                "429": {
                    "description": "Too many device logins started from this address "
                    "(`device_starts_per_minute`); `retry_after` says how long to wait",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    **json_content(ref("Error")),
                },
            },
        }
    },
    "/auth/token": {
        "post": {
            "tags": ["Auth"],
            "summary": "Exchange an approved device code for tokens",
            "security": [],
            "requestBody": body(
                {
                    "type": "object",
                    "description": _OAUTH_OPEN,
                    "required": ["client_id", "device_code", "grant_type"],
                    "properties": {
                        "client_id": {"type": "string"},
                        "device_code": {"type": "string"},
                        "grant_type": {"type": "string", "enum": [DEVICE_GRANT]},
                    },
                }
            ),
            "responses": {"200": ok(ref("TokenResponse")), **_TOKEN_ERRORS},
        }
    },
    "/auth/refresh": {
        "post": {
            "tags": ["Auth"],
            "summary": "Rotate a refresh token for new tokens",
            "security": [],
            "requestBody": body(
                {
                    "type": "object",
                    "description": _OAUTH_OPEN,
                    "required": ["refresh_token", "grant_type"],
                    "properties": {
                        "refresh_token": {"type": "string"},
                        "grant_type": {"type": "string", "enum": ["refresh_token"]},
                    },
                }
            ),
            "responses": {"200": ok(ref("TokenResponse")), **_TOKEN_ERRORS},
        }
    },
    "/auth/revoke": {
        "post": {
            "tags": ["Auth"],
            "summary": "Revoke a refresh token and its whole login (RFC 7009)",
            "security": [],
            "requestBody": body(
                {
                    "type": "object",
                    "description": _OAUTH_OPEN,
                    "required": ["token"],
                    "properties": {"token": {"type": "string"}},
                }
            ),
            "responses": {
                "200": ok({"type": "object", "properties": {"revoked": {"type": "boolean"}}}),
                "400": ERROR,
            },
        }
    },
    "/users/me": {
        "get": {
            "tags": ["Users"],
            "summary": "The current user's profile and quota",
            "responses": {"200": ok(ref("User")), **AUTH_ERRORS},
        }
    },
}
