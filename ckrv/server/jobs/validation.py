"""Validation of job requests: repository URLs (docs/security.md item 23), branch names, spec text."""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from urllib.parse import urlsplit

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


@functools.lru_cache(maxsize=4096)  # pure; a server sees the same few repositories again and again
def _url_kind(url: str, allow_local: bool, allow_ssh: bool) -> tuple[str, str | None]:
    """The URL's transport kind and the host to check, from its text alone."""
    if not url or url != url.strip() or any(ch in url for ch in "\n\r\t\x00 "):
        raise InvalidRequest("git_repo_url must be a URL without spaces")
    if url.startswith("-"):
        raise InvalidRequest("git_repo_url must not start with '-'")
    if "::" in url.split("/", 1)[0]:
        raise InvalidRequest(
            "git_repo_url uses a git remote helper (like ext::); only https and ssh are allowed"
        )
    if _SCP_LIKE.match(url):
        return _ssh_host(allow_ssh, url.split("@", 1)[1].split(":", 1)[0])
    parts = urlsplit(url)
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
            raise InvalidRequest("git_repo_url must use https:// (plain http is refused)")
        return scheme, host
    if scheme == "ssh":
        if parts.password is not None:
            raise InvalidRequest("git_repo_url must not carry a password")
        return _ssh_host(allow_ssh, parts.hostname or "")
    if allow_local and (scheme == "file" or (not scheme and url.startswith("/"))):
        return "local", None
    raise InvalidRequest(
        f"git_repo_url {url!r} is not an https:// or ssh:// URL (file:// and local paths are refused)"
    )


def _ssh_host(allow_ssh: bool, host: str) -> tuple[str, str]:
    if not allow_ssh:
        raise InvalidRequest("ssh repository URLs are disabled on this server; use https://")
    if not host or host.startswith("-"):
        raise InvalidRequest("git_repo_url has no valid host")
    return "ssh", host


def _check_host(host: str, settings: Settings) -> None:
    if not settings.refuse_private_hosts:
        return
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        raise InvalidRequest(f"cannot resolve repository host {host!r}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if (
            address.is_loopback
            or address.is_private
            or address.is_link_local
            or address.is_unspecified
        ):
            raise InvalidRequest(
                f"repository host {host!r} resolves to a private address; this server refuses those"
            )
