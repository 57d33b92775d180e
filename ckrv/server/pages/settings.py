"""`/settings`: the signed-in user's git credentials and agent secrets (add, list, remove; a
value is never shown again), API tokens (create with an expiry and see it once; list; revoke)
and browser sessions (list; end). Every form carries the session's CSRF token. Each action
calls the same store functions as the API's routes, scoped to the user: another user's
credential, secret, token or session is a 404 like a missing one."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ckrv.contracts.credentials import CREDENTIAL_TYPES, PROVIDERS
from ckrv.errors import NotFound
from ckrv.server.identity import sessions
from ckrv.server.identity.tokens import create_api_token, list_api_tokens, revoke_api_token
from ckrv.server.pages.forms import Action, form_action
from ckrv.server.pages.render import page
from ckrv.server.pages.session import SESSION_COOKIE, Browser, signed_in_page
from ckrv.server.vault import store
from ckrv.server.web.request_auth import services
from ckrv.timeutil import parse_duration

# What the token form offers: label -> lifetime ("never": no expiry).
TOKEN_LIFETIMES = {"7 days": "7d", "30 days": "30d", "90 days": "90d", "1 year": "365d"}
NO_EXPIRY = "never"


def _context(request: Request, browser: Browser) -> dict[str, Any]:
    user = browser.user
    db = services(request).db

    def read(conn: sqlite3.Connection) -> dict[str, Any]:
        return {
            "credentials": store.list_credentials(conn, user["id"]),
            "secrets": store.list_secrets(conn, user["id"]),
            "tokens": [dict(t) for t in list_api_tokens(conn, user["email"])],
            "sessions": sessions.user_sessions(conn, user["id"]),
        }

    listing = db.read_with(read)
    current = sessions.public_id(request.cookies.get(SESSION_COOKIE, ""))
    return {
        **listing,
        "browser": browser,
        "nav": "settings",
        "providers": PROVIDERS,
        "credential_types": CREDENTIAL_TYPES,
        "lifetimes": [*TOKEN_LIFETIMES.items(), ("No expiry", NO_EXPIRY)],
        "current_session": current,
    }


def _settings_page(request: Request, browser: Browser, status: int = 200, **extra: Any) -> Response:
    return page("settings.html", status, **_context(request, browser), **extra)


async def show(request: Request, browser: Browser) -> Response:
    return _settings_page(request, browser)


async def _settings_outcome(
    request: Request, browser: Browser, status: int = 200, **extra: Any
) -> Response:
    return _settings_page(request, browser, status, **extra)


def settings_action(action: Action) -> Callable[[Request], Awaitable[Response]]:
    """A POST of a settings form (pages/forms.py), shown on /settings."""
    return form_action(action, _settings_outcome)


async def add_credential(request: Request, browser: Browser, form: Any) -> str:
    svc, user_id = services(request), browser.user["id"]
    name, provider = str(form.get("name", "")).strip(), str(form.get("provider", ""))
    kind, value = str(form.get("credential_type", "")), str(form.get("value", ""))
    await svc.db.write(
        lambda c: store.create_credential(c, svc.master_keys, user_id, name, provider, kind, value)
    )
    return f"Credential {name} added. Its value is stored encrypted and never shown again."


async def remove_credential(request: Request, browser: Browser, form: Any) -> str:
    name, user_id = request.path_params["name"], browser.user["id"]
    await services(request).db.write(lambda c: store.delete_credential(c, user_id, name))
    return f"Credential {name} removed."


async def set_secret(request: Request, browser: Browser, form: Any) -> str:
    svc, user_id = services(request), browser.user["id"]
    name, value = str(form.get("name", "")).strip(), str(form.get("value", ""))
    cap = svc.settings.max_secrets_bytes
    created = await svc.db.write(
        lambda c: store.put_secret(c, svc.master_keys, user_id, name, value, cap)
    )
    return f"Secret {name} {'added' if created else 'replaced'}. Its value is never shown again."


async def remove_secret(request: Request, browser: Browser, form: Any) -> str:
    name, user_id = request.path_params["name"], browser.user["id"]
    await services(request).db.write(lambda c: store.delete_secret(c, user_id, name))
    return f"Secret {name} removed."


async def create_token(request: Request, browser: Browser, form: Any) -> dict[str, Any]:
    lifetime = str(form.get("expires", "90d"))
    if lifetime != NO_EXPIRY and lifetime not in TOKEN_LIFETIMES.values():
        lifetime = "90d"
    ttl = None if lifetime == NO_EXPIRY else parse_duration(lifetime)
    user_id = browser.user["id"]
    token_id, value = await services(request).db.write(lambda c: create_api_token(c, user_id, ttl))
    return {"new_token": value, "new_token_id": token_id}


async def revoke_token(request: Request, browser: Browser, form: Any) -> str:
    token_id, user_id = request.path_params["token_id"], browser.user["id"]
    revoked = await services(request).db.write(lambda c: revoke_api_token(c, token_id, user_id))
    if not revoked:
        raise NotFound(f"no active API token {token_id}")
    return f"Token {token_id} revoked: it no longer works."


async def end_session(request: Request, browser: Browser, form: Any) -> str:
    session_id, user_id = request.path_params["session_id"], browser.user["id"]
    ended = await services(request).db.write(
        lambda c: sessions.end_session_by_id(c, user_id, session_id)
    )
    if not ended:
        raise NotFound(f"no session {session_id}")
    return "That browser is signed out."


routes: list[BaseRoute] = [
    Route("/settings", signed_in_page(show), methods=["GET"]),
    Route("/settings/credentials", settings_action(add_credential), methods=["POST"]),
    Route(
        "/settings/credentials/{name}/remove", settings_action(remove_credential), methods=["POST"]
    ),
    Route("/settings/secrets", settings_action(set_secret), methods=["POST"]),
    Route("/settings/secrets/{name}/remove", settings_action(remove_secret), methods=["POST"]),
    Route("/settings/tokens", settings_action(create_token), methods=["POST"]),
    Route("/settings/tokens/{token_id}/revoke", settings_action(revoke_token), methods=["POST"]),
    Route("/settings/sessions/{session_id}/end", settings_action(end_session), methods=["POST"]),
]
