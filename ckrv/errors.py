"""The one exception tree, shared by the CLI, the client, the worker and the server.

Each class carries three things: the CLI's exit code (`exit_code`), the HTTP status the server
answers with (`status`) and the wire code of that answer's `error` field (`code`). An error's
data are constructor arguments; `fields()` gives the ones its response body carries, and
`from_wire` builds the error back from such a body on the client. Stdlib only: the CLI's fast
paths import this module.

    CkrvError                    1  500 internal_error (a bug or a failure, never rendered)
    ├── InvalidRequest           1  400 invalid_request
    │   ├── UsageError           2      (the command line or a local file is wrong)
    │   ├── CredentialMismatch   1  400 credential_mismatch
    │   ├── UnknownFields        1  400 unknown_fields (a JSON body's keys the route does not
    │   │                               take, and the ones it does)
    │   └── Unprocessable        1  422 unprocessable (well-formed, but this server cannot
    │       │                               do it: a timeout over its maximum)
    │       └── AgentUnavailable 1  422 agent_unavailable
    ├── PayloadTooLarge          1  413 payload_too_large
    ├── RequestTimeout           1  408 request_timeout (a request body arrived too slowly)
    ├── Conflict                 1  409 conflict, and superseded / job_ended for a worker,
    │                                   unconfined (jobs of one user only)
    ├── ConfigError              2  500 config_error
    ├── NotAuthenticated         3  401 unauthorized, and invalid_token
    │   └── AccountDisabled      3  403 account_disabled
    ├── NotFound                 4  404 not_found, not_finished, no_diff, 422 credential_not_found,
    │                               410 expired, artifact_expired
    ├── QuotaExceeded            5  402 quota_exceeded
    ├── RateLimited              1  429 rate_limited (Retry-After: retry_after seconds)
    ├── ServerUnreachable        6
    ├── JobUnsuccessful          7
    ├── Unverified               8  (`ckrv pull --require-verified` of an unverified result)
    ├── OAuthError               1  400 the RFC 6749 §5.2 / RFC 8628 §3.5 codes
    ├── ApiError                 1  an answer the client has no more specific class for
    └── GitError, WorkerError    1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self


class CkrvError(Exception):
    """Base of every error ckrv raises on purpose. The message is shown to the user as is."""

    exit_code = 1
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def fields(self) -> dict[str, Any]:
        """The body fields this error adds to `error` and `message` on the wire."""
        return {}

    @classmethod
    def from_wire(cls, message: str, body: Mapping[str, Any], *, hint: str | None = None) -> Self:
        """The error a response body with this class's code describes (on the client)."""
        return cls(message, hint=hint)


# --- 400, 409, 413: the request cannot be served as it is ---


class InvalidRequest(CkrvError):
    status = 400
    code = "invalid_request"


class UsageError(InvalidRequest):
    """The command line, or a file it names, is wrong (exit 2)."""

    exit_code = 2


class CredentialMismatch(InvalidRequest):
    """A git credential that cannot work with the repository URL (a token needs https)."""

    code = "credential_mismatch"


class UnknownFields(InvalidRequest):
    """A JSON body with keys the route does not take: a misspelt option (`netwrok`) would
    otherwise be ignored and the request served with the default. `unknown` are the body's
    keys the route does not take, `accepted` the ones it does."""

    code = "unknown_fields"

    def __init__(
        self,
        message: str,
        *,
        unknown: list[str] | None = None,
        accepted: list[str] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.unknown = list(unknown or [])
        self.accepted = list(accepted or [])

    def fields(self) -> dict[str, Any]:
        return {"unknown_fields": self.unknown, "accepted_fields": self.accepted}

    @classmethod
    def from_wire(cls, message: str, body: Mapping[str, Any], *, hint: str | None = None) -> Self:
        def names(key: str) -> list[str]:
            value = body.get(key)
            return [str(n) for n in value] if isinstance(value, list) else []

        return cls(
            message, unknown=names("unknown_fields"), accepted=names("accepted_fields"), hint=hint
        )


class Unprocessable(InvalidRequest):
    """A well-formed request this server cannot carry out as asked (a limit of its own)."""

    status = 422
    code = "unprocessable"


class AgentUnavailable(Unprocessable):
    """A job names an agent whose program the server's workers cannot start (not installed)."""

    code = "agent_unavailable"


class PayloadTooLarge(CkrvError):
    status = 413
    code = "payload_too_large"


class RequestTimeout(CkrvError):
    """The request's body did not arrive in time (the server's body_timeout and
    body_min_rate); the server closes the connection after answering."""

    status = 408
    code = "request_timeout"


class Conflict(CkrvError):
    status = 409
    code = "conflict"


class Superseded(Conflict):
    """A worker's dispatch attempt was replaced by a newer one: the worker stops."""

    code = "superseded"


class JobEnded(Conflict):
    """A worker reports for a job that already ended: the worker stops."""

    code = "job_ended"


class Unconfined(Conflict):
    """The server cannot confine jobs and runs them for one user only (several exist)."""

    code = "unconfined"


class ConfigError(CkrvError):
    """Bad configuration file, data dir or key material."""

    exit_code = 2
    code = "config_error"


# --- 401, 404, 410, 402 ---


class NotAuthenticated(CkrvError):
    exit_code = 3
    status = 401
    code = "unauthorized"


class InvalidToken(NotAuthenticated):
    """A bearer token that must not be honoured; the message says why."""

    code = "invalid_token"


class AccountDisabled(NotAuthenticated):
    """The account was disabled by an administrator: it cannot sign in, and its tokens and
    browser sessions are refused until it is enabled again."""

    status = 403
    code = "account_disabled"

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(
            message or "this account is disabled",
            hint=hint or "ask an administrator of this server to enable it",
        )


class NotFound(CkrvError):
    exit_code = 4
    status = 404
    code = "not_found"


class CredentialNotFound(NotFound):
    """A job names a git credential the user does not have; `credentials` are the ones they do.
    422, not 404: the request is understood but names something missing, and a client that
    reads any 404 of a job route as "job not found" would hide the reason."""

    status = 422
    code = "credential_not_found"

    def __init__(
        self, message: str, *, credentials: list[str] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.credentials = list(credentials or [])

    def fields(self) -> dict[str, Any]:
        return {"credentials": self.credentials}

    @classmethod
    def from_wire(cls, message: str, body: Mapping[str, Any], *, hint: str | None = None) -> Self:
        names = body.get("credentials")
        listed = [str(n) for n in names] if isinstance(names, list) else []
        return cls(message, credentials=listed, hint=hint)


class NotFinished(NotFound):
    """The job's diff is asked for before the job ended."""

    code = "not_finished"


class NoDiff(NotFound):
    """The job ended without a diff (it failed, or its artifact is gone)."""

    code = "no_diff"


class Expired(NotFound):
    """Gone for good: retention deleted it (the job record is kept)."""

    status = 410
    code = "expired"


class ArtifactExpired(Expired):
    code = "artifact_expired"


class QuotaExceeded(CkrvError):
    """The user's job quota for this cycle is spent. `resets_at` is when it resets (ISO 8601),
    `upgrade_url` where to get a larger one (the server's setting, if any). A group of jobs,
    refused whole, also says how many jobs it needed and how many were left."""

    exit_code = 5
    status = 402
    code = "quota_exceeded"

    def __init__(
        self,
        message: str,
        *,
        resets_at: str | None = None,
        upgrade_url: str | None = None,
        hint: str | None = None,
        jobs_needed: int | None = None,
        jobs_left: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint or (f"upgrade: {upgrade_url}" if upgrade_url else None))
        self.resets_at = resets_at
        self.upgrade_url = upgrade_url
        self.jobs_needed = jobs_needed
        self.jobs_left = jobs_left

    def fields(self) -> dict[str, Any]:
        body: dict[str, Any] = {"quota_resets_at": self.resets_at, "upgrade_url": self.upgrade_url}
        if self.jobs_needed is not None:
            body |= {"jobs_needed": self.jobs_needed, "jobs_left": self.jobs_left}
        return body

    @classmethod
    def from_wire(cls, message: str, body: Mapping[str, Any], *, hint: str | None = None) -> Self:
        resets, upgrade = body.get("quota_resets_at"), body.get("upgrade_url")
        needed, left = body.get("jobs_needed"), body.get("jobs_left")
        return cls(
            message,
            resets_at=str(resets) if resets else None,
            upgrade_url=str(upgrade) if upgrade else None,
            hint=hint,
            jobs_needed=needed if isinstance(needed, int) else None,
            jobs_left=left if isinstance(left, int) else None,
        )


class RateLimited(CkrvError):
    """Too many requests of one kind from one client; `retry_after` is the seconds to wait
    (also sent as the Retry-After header)."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 60, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after

    def fields(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}

    @classmethod
    def from_wire(cls, message: str, body: Mapping[str, Any], *, hint: str | None = None) -> Self:
        after = body.get("retry_after")
        return cls(message, retry_after=after if isinstance(after, int) else 60, hint=hint)


# --- the client's and the CLI's own ---


class ServerUnreachable(CkrvError):
    exit_code = 6


class JobUnsuccessful(CkrvError):
    """A job that was waited on ended in a status other than succeeded."""

    exit_code = 7


class Unverified(CkrvError):
    """`ckrv pull --require-verified` of a job whose result did not pass verify."""

    exit_code = 8


# --- the device flow and token endpoints (RFC 6749 §5.2, RFC 8628 §3.5) ---


class OAuthError(CkrvError):
    status = 400


class AuthorizationPending(OAuthError):
    code = "authorization_pending"


class SlowDown(OAuthError):
    code = "slow_down"


class ExpiredToken(OAuthError):
    code = "expired_token"


class AccessDenied(OAuthError):
    code = "access_denied"


class InvalidGrant(OAuthError):
    code = "invalid_grant"


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"


class ApiError(CkrvError):
    """The server answered with an error the client has no more specific class for."""

    def __init__(self, message: str, *, status: int, code: str | None = None, **kw: str) -> None:
        super().__init__(message, hint=kw.get("hint"))
        self.status = status
        self.code = code or "http_error"


class GitError(CkrvError):
    """A git command failed. The worker scrubs URL userinfo and tokens from the message before
    raising it (worker/gitops.py); client-side errors come from the user's own repository."""


class WorkerError(CkrvError):
    """The worker pipeline failed in a way the job's error_message should describe."""


# The class the client builds for each wire code (a code several classes share, such as
# `invalid_request` or `conflict`, maps to the general one).
WIRE_ERRORS: dict[str, type[CkrvError]] = {
    cls.code: cls
    for cls in (
        InvalidRequest,
        CredentialMismatch,
        UnknownFields,
        Unprocessable,
        AgentUnavailable,
        PayloadTooLarge,
        RequestTimeout,
        Conflict,
        Superseded,
        JobEnded,
        NotAuthenticated,
        InvalidToken,
        AccountDisabled,
        NotFound,
        CredentialNotFound,
        NotFinished,
        NoDiff,
        Expired,
        ArtifactExpired,
        QuotaExceeded,
        RateLimited,
        AuthorizationPending,
        SlowDown,
        ExpiredToken,
        AccessDenied,
        InvalidGrant,
        UnsupportedGrantType,
    )
}
