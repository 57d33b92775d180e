"""The one exception tree. Each class carries the CLI exit code it maps to (DESIGN.md §4)."""

from __future__ import annotations


class CkrvError(Exception):
    """Base of every error ckrv raises on purpose. The message is shown to the user as is."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(CkrvError):
    exit_code = 2


class ConfigError(CkrvError):
    """Bad configuration file, data dir or key material."""

    exit_code = 2


class NotAuthenticated(CkrvError):
    exit_code = 3


class NotFound(CkrvError):
    exit_code = 4


class QuotaExceeded(CkrvError):
    exit_code = 5


class ServerUnreachable(CkrvError):
    exit_code = 6


class JobUnsuccessful(CkrvError):
    """A job that was waited on ended in a status other than succeeded."""

    exit_code = 7


class ApiError(CkrvError):
    """The server answered with an error the client has no more specific class for."""

    def __init__(self, message: str, *, status: int, code: str | None = None, **kw: str) -> None:
        super().__init__(message, hint=kw.get("hint"))
        self.status = status
        self.code = code


class GitError(CkrvError):
    """A git command failed. The worker scrubs URL userinfo and tokens from the message before
    raising it (worker/gitops.py); client-side errors come from the user's own repository."""


class WorkerError(CkrvError):
    """The worker pipeline failed in a way the job's error_message should describe."""
