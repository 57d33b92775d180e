"""Validation of job requests: repository URLs (docs/security.md item 23), branch names, spec text."""

from __future__ import annotations

import functools
import re
import socket
import unicodedata
from urllib.parse import unquote, urlsplit

from ckrv.contracts.addresses import refusal
from ckrv.errors import InvalidRequest, PayloadTooLarge
from ckrv.settings import Settings

MAX_SPEC_BYTES = 1024 * 1024
MAX_URL_LENGTH = 2048  # what git hosts accept, and it bounds the validation cache
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)[^\s]+$")
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def check_spec(spec: str) -> None:
    if not spec.strip():
        raise InvalidRequest("spec_content is empty: send the text of the spec file")
    if len(spec.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise PayloadTooLarge(f"spec_content is larger than {MAX_SPEC_BYTES} bytes")
    if "\x00" in spec:
        raise InvalidRequest("spec_content must be text (it contains a NUL byte)")


@functools.lru_cache(maxsize=4096)  # pure, and the same few branches come again and again
def check_branch(name: str) -> None:
    """git check-ref-format rules for a branch name."""
    problems = (
        not name
        or len(name) > 255
        or name.startswith(("-", "/", "."))
        or name.endswith(("/", ".", ".lock"))
        or ".." in name
        or "@{" in name
        or name == "@"
        or "//" in name
        or _BAD_REF_CHARS.search(name)
        or any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))
    )
    if problems:
        raise InvalidRequest(f"git_base_branch {name!r} is not a valid branch name")


def check_repo_url(url: str, settings: Settings) -> str:
    """Return the URL's transport kind, or raise 400 saying what is wrong."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"git_repo_url is longer than {MAX_URL_LENGTH} characters")
    kind, host = _url_kind(url, settings.allow_local_repositories, settings.allow_ssh_repositories)
    if host is not None:
        _check_host(host, settings)  # each time: what a name resolves to can change
    return kind


def _has_control_or_space(text: str) -> bool:
    """Whitespace or a control character (any category C*: format, private use...)."""
    return any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in text)


@functools.lru_cache(maxsize=4096)  # pure; a server sees the same few repositories again and again
def _url_kind(url: str, allow_local: bool, allow_ssh: bool) -> tuple[str, str | None]:
    """The URL's transport kind and the host to check, from its text alone."""
    if not url or _has_control_or_space(url):
        raise InvalidRequest("git_repo_url must be a URL without spaces or control characters")
    if url.startswith("-"):
        raise InvalidRequest("git_repo_url must not start with '-'")
    if "::" in url.split("/", 1)[0]:
        raise InvalidRequest(
            "git_repo_url uses a git remote helper (like ext::); only https and ssh are allowed"
        )
    if _SCP_LIKE.match(url):
        user, rest = url.split("@", 1)
        return _ssh_host(allow_ssh, rest.split(":", 1)[0], user)
    try:
        parts = urlsplit(url)
        port = parts.port  # checked here: a port that is not a number raises
    except ValueError as exc:
        raise InvalidRequest(f"git_repo_url has an invalid host or port ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme in {"https", "http"}:
        if parts.username is not None or parts.password is not None:
            raise InvalidRequest(
                "git_repo_url must not carry credentials; store them with "
                "`ckrv cloud credentials add` and pass --credential"
            )
        host = parts.hostname  # parsed anew on every access
        if not host:
            raise InvalidRequest("git_repo_url has no host")
        if scheme == "http" and not allow_local:
            raise InvalidRequest(
                "git_repo_url must use https:// (plain http is refused unless the server sets "
                "allow_local_repositories)"
            )
        _check_host_text(host)
        return scheme, host
    if scheme == "ssh":
        if parts.password is not None:
            raise InvalidRequest("git_repo_url must not carry a password")
        if port == 0:
            raise InvalidRequest("git_repo_url has an invalid port")
        return _ssh_host(allow_ssh, parts.hostname or "", parts.username)
    if allow_local and (scheme == "file" or (not scheme and url.startswith("/"))):
        return "local", None
    if allow_local:
        raise InvalidRequest(
            f"git_repo_url {url!r} is not an https://, http://, ssh:// or file:// URL or an "
            "absolute local path"
        )
    raise InvalidRequest(
        f"git_repo_url {url!r} is not an https:// or ssh:// URL (file:// URLs and local paths "
        "are refused unless the server sets allow_local_repositories = true, for development "
        "and trying ckrv on one machine only)"
    )


def _check_host_text(host: str) -> None:
    """git decodes %-escapes in a URL's host and user before it passes them to ssh: a host or
    user that starts with '-' (once decoded) would be read as an option of ssh
    (`ssh://-oProxyCommand=...`), so both are refused, as are control characters."""
    decoded = unquote(host)
    if decoded.startswith("-") or _has_control_or_space(decoded):
        raise InvalidRequest(
            f"git_repo_url's host {host!r} must not start with '-' or hold spaces or "
            "control characters (it would reach ssh as an option)"
        )


def _ssh_host(allow_ssh: bool, host: str, user: str | None) -> tuple[str, str]:
    if not allow_ssh:
        raise InvalidRequest("ssh repository URLs are disabled on this server; use https://")
    if not host:
        raise InvalidRequest("git_repo_url has no valid host")
    _check_host_text(host)
    if user is not None:
        decoded = unquote(user)
        if not decoded or decoded.startswith("-") or _has_control_or_space(decoded):
            raise InvalidRequest(
                f"git_repo_url's user {user!r} must not be empty, start with '-' or hold "
                "spaces or control characters (it would reach ssh as an option)"
            )
    return "ssh", host


def _check_host(host: str, settings: Settings) -> None:
    """With `refuse_private_hosts`: every address the host resolves to must be a global
    unicast address (ckrv/contracts/addresses.py); the worker checks again when git connects."""
    if not settings.refuse_private_hosts:
        return
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None)
    except OSError as exc:
        raise InvalidRequest(f"cannot resolve repository host {host!r}") from exc
    for info in infos:
        why = refusal(str(info[4][0]))
        if why is not None:
            raise InvalidRequest(
                f"repository host {host!r} resolves to a refused address ({why}); this "
                "server refuses private and special-purpose addresses (refuse_private_hosts)"
            )
