"""The git credential vocabulary: which providers and credential types exist, the username that
goes with a token, which URL a credential type can work with, and the credential as a worker
receives it. The server checks a credential against a URL when a job is created; the worker
checks again before it hands the credential to git."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import urlsplit

from ckrv.contracts.masking import scrub

Provider = Literal["github", "gitlab", "bitbucket", "generic"]
CredentialType = Literal["pat", "deploy_key"]
Transport = Literal["https", "http", "ssh", "local"]

PROVIDERS: tuple[Provider, ...] = get_args(Provider)
CREDENTIAL_TYPES: tuple[CredentialType, ...] = get_args(CredentialType)
# The username each provider expects next to a token in HTTP basic auth.
PROVIDER_USERNAMES: dict[str, str] = {
    "github": "x-access-token",
    "gitlab": "oauth2",
    "bitbucket": "x-token-auth",
}
# The server's `ssh_known_hosts` setting: learn hosts per job, strict, or no checking.
KNOWN_HOSTS_POLICIES = ("accept-new", "yes", "no")

_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>[^@/:\s]+):(?!//)")


@dataclass(frozen=True)
class GitCredential:
    """A job's git credential, decrypted, as the worker receives it at launch."""

    name: str
    provider: str
    credential_type: str
    value: str
    username: str


def url_transport(url: str) -> Transport:
    """`https`, `http`, `ssh` or `local` (file:// URLs and paths)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "https":
        return "https"
    if scheme == "http":
        return "http"
    if scheme in ("ssh", "git+ssh", "ssh+git") or (not scheme and _SCP_LIKE.match(url)):
        return "ssh"
    return "local"


def url_host(url: str) -> str:
    """The host (with its port, if any) a URL points at, without any userinfo."""
    if "://" in url:
        return urlsplit(url).netloc.rpartition("@")[2]
    match = _SCP_LIKE.match(url)
    return match.group("host") if match else "this machine"


def url_user(url: str) -> str | None:
    if "://" in url:
        return urlsplit(url).username or None
    match = _SCP_LIKE.match(url)
    return match.group("user") if match else None


def git_username(provider: str, repo_url: str) -> str:
    """The username that goes with a token: the provider's convention, else the URL's user,
    else `git`."""
    return PROVIDER_USERNAMES.get(provider) or url_user(repo_url) or "git"


def transport_mismatch(credential_type: str, repo_url: str) -> str | None:
    """Why a credential of this type cannot work with `repo_url`, or None when it can: a PAT
    needs an http(s) URL and a deploy key an ssh one; local repositories take either."""
    transport = url_transport(repo_url)
    if credential_type == "pat" and transport == "ssh":
        return (
            f"a personal access token cannot be used with the ssh URL {scrub(repo_url)}: use the "
            "repository's https URL, or a deploy key"
        )
    if credential_type == "deploy_key" and transport in ("https", "http"):
        return (
            f"a deploy key cannot be used with the {transport} URL {scrub(repo_url)}: use the "
            "repository's ssh URL (git@host:owner/repo.git), or a personal access token"
        )
    if credential_type not in CREDENTIAL_TYPES:
        return f"unknown credential type {credential_type!r}"
    return None
