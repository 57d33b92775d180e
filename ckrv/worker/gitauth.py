"""How git gets a credential without it touching argv, URLs or .git/config (docs/security.md item 18):
an askpass helper for PATs, a private key file and GIT_SSH_COMMAND for deploy keys. Also the
other side of it: turning git's authentication errors into a message that says what to fix,
and scrubbing URLs' userinfo and tokens out of any git output (contracts/masking.py: scrub).

The functions here are pure or touch only the private dir they are given. Which URL a
credential fits, and its username, are the shared vocabulary of ckrv/contracts/credentials.py.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from ckrv.contracts.credentials import (
    KNOWN_HOSTS_POLICIES,
    GitCredential,
    git_username,
    transport_mismatch,
    url_host,
)
from ckrv.errors import WorkerError

# git prompts "Username for 'https://host': "; the helper answers only for the job's host, so a
# redirect to another host never receives the token. Host, username and the token's file are
# written into the script: no variable of git's environment holds anything of the credential.
_ASKPASS_SCRIPT = """#!/bin/sh
case "$1" in
  *"://"{host}"'"*|*"@"{host}"'"*) ;;
  *) echo "ckrv askpass: refusing to answer for another host: $1" >&2; exit 1 ;;
esac
case "$1" in
  Username*) printf '%s\\n' {username} ;;
  *) cat {password_file} ;;
esac
"""


def base_git_env(allow_local: bool) -> dict[str, str]:
    # Plain http only comes with local repositories: it exists for tests and development.
    protocols = "https:ssh" + (":file:http" if allow_local else "")
    return {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": protocols,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GCM_INTERACTIVE": "never",
    }


def credential_env(
    credential: GitCredential | None,
    repo_url: str,
    private_dir: Path,
    *,
    known_hosts_policy: str = "accept-new",
    known_hosts_file: Path | None = None,
) -> dict[str, str]:
    """Environment that lets git authenticate with `credential` (None: nothing to add).

    `known_hosts_policy` is the server's `ssh_known_hosts` setting: `accept-new` (hosts learnt
    into a per-job file), `yes` (strict: `known_hosts_file`, or ssh's default files) or `no`.

    `credential` is the job's credential from the launch environment. Files go in `private_dir`, which must be a directory only this user can enter;
    remove it when the job is done. `known_hosts_file` replaces the per-job known_hosts file
    (for the strict policy `yes` it should hold the hosts the server trusts)."""
    if credential is None:
        return {}
    kind = credential.credential_type
    check_transport(kind, repo_url)
    _check_private_dir(private_dir)
    if kind == "pat":
        return _askpass_env(credential, repo_url, private_dir)
    return _ssh_env(credential.value, private_dir, known_hosts_policy, known_hosts_file)


def check_transport(credential_type: str, repo_url: str) -> None:
    """Raise WorkerError when a credential of this type cannot work with `repo_url`."""
    mismatch = transport_mismatch(credential_type, repo_url)
    if mismatch is not None:
        raise WorkerError(mismatch)


def forget_credential_files(private_dir: Path) -> None:
    """Delete what `credential_env` wrote that holds a secret (the deploy key, the token):
    setup, the agent and verify run as this user and where no sandbox hides the private
    directory they could read it. `credential_env` writes it again for the push."""
    (private_dir / "deploy_key").unlink(missing_ok=True)
    (private_dir / "git_password").unlink(missing_ok=True)


def _check_private_dir(path: Path) -> None:
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode) or stat.S_IMODE(info.st_mode) & 0o077:
        raise WorkerError(f"{path} must be a directory only its owner can use (mode 0700)")


def _askpass_env(credential: GitCredential, repo_url: str, private_dir: Path) -> dict[str, str]:
    password_file = private_dir / "git_password"
    _write_private(password_file, credential.value + "\n", 0o600)
    username = credential.username or git_username(credential.provider, repo_url)
    helper = private_dir / "askpass.sh"
    script = _ASKPASS_SCRIPT.format(
        host=shlex.quote(url_host(repo_url)),
        username=shlex.quote(username),
        password_file=shlex.quote(str(password_file)),
    )
    _write_private(helper, script, 0o700)
    return {
        "GIT_ASKPASS": str(helper),
        # An empty helper list: no configured credential helper may store the token anywhere.
        **_git_config({"credential.helper": ""}),
    }


def _write_private(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


def _git_config(values: dict[str, str]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(values))}
    for index, (key, value) in enumerate(values.items()):
        env[f"GIT_CONFIG_KEY_{index}"], env[f"GIT_CONFIG_VALUE_{index}"] = key, value
    return env


def _ssh_env(key: str, private_dir: Path, policy: str, known_hosts: Path | None) -> dict[str, str]:
    if policy not in KNOWN_HOSTS_POLICIES:
        raise WorkerError(
            f"unknown ssh_known_hosts policy {policy!r}: use one of "
            f"{', '.join(KNOWN_HOSTS_POLICIES)}"
        )
    key_file = private_dir / "deploy_key"
    _write_private(key_file, key.strip() + "\n", 0o600)  # ssh wants the final newline
    options = ["IdentitiesOnly=yes", "IdentityAgent=none", "BatchMode=yes"]
    options.append(f"StrictHostKeyChecking={policy}")
    if policy == "no":
        options.append(f"UserKnownHostsFile={os.devnull}")
    elif known_hosts is not None:
        options.append(f"UserKnownHostsFile={known_hosts}")
    elif policy == "accept-new":
        # a per-job file: hosts learnt by one job are not trusted by the next one's user
        options.append(f"UserKnownHostsFile={private_dir / 'known_hosts'}")
    # (strict `yes` without a file: ssh's own ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts)
    command = ["ssh", "-F", "none", "-i", str(key_file)]
    for option in options:
        command += ["-o", option]
    return {"GIT_SSH_COMMAND": shlex.join(command), "GIT_SSH_VARIANT": "ssh"}


# --- errors -----------------------------------------------------------------------------------

_HTTP_AUTH_FAILURES = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "http basic: access denied",
    "invalid username or password",
    "returned error: 401",
    "returned error: 403",
    "repository not found",
    "access denied",
    "refusing to answer for another host",
)
_SSH_AUTH_FAILURES = (
    "permission denied (publickey",
    "could not read from remote repository",
    "no such identity",
    "invalid format",
)
_HOST_KEY_FAILURES = ("host key verification failed", "remote host identification has changed")

_SCOPES = {
    ("github", "pat"): "a fine-grained token with Contents: Read-only (Read and write for --push) "
    "on this repository, or a classic token with the `repo` scope",
    ("gitlab", "pat"): "the `read_repository` scope (`write_repository` for --push)",
    ("bitbucket", "pat"): "a repository access token with Repositories: Read (Write for --push)",
    ("generic", "pat"): "read access to the repository (write access for --push)",
}
_DEPLOY_KEY_SCOPE = (
    "its public half added as a deploy key of this repository (with write access for --push)"
)


def explain_auth_failure(
    stderr: str,
    host: str,
    credential_name: str | None,
    *,
    provider: str = "generic",
    credential_type: str = "pat",
) -> str | None:
    """A clear message when git's `stderr` says authentication failed, else None."""
    text = stderr.lower()
    if any(marker in text for marker in _HOST_KEY_FAILURES):
        return (
            f"ssh could not verify the host key of {host}: the server's ssh_known_hosts "
            "policy is strict and the host is unknown or its key changed; add its key to the "
            "known_hosts file the workers use"
        )
    is_auth = any(m in text for m in _HTTP_AUTH_FAILURES + _SSH_AUTH_FAILURES)
    if not is_auth:
        return None
    if credential_name is None:
        return (
            f"{host} asked for credentials and the job has none: add one with `ckrv cloud "
            "credentials add`, then run the job with --credential NAME"
        )
    what = "deploy key" if credential_type == "deploy_key" else f"{provider} token"
    needs = (
        _DEPLOY_KEY_SCOPE
        if credential_type == "deploy_key"
        else _SCOPES.get((provider, credential_type), _SCOPES[("generic", "pat")])
    )
    return (
        f"authentication to {host} failed with credential '{credential_name}' ({what}): it "
        f"was refused, has expired, or cannot access this repository. It needs {needs}."
    )


def explain_clone_failure(
    stderr: str, repo_url: str, credential: GitCredential | None
) -> str | None:
    """`explain_auth_failure` for the job's repository and its credential."""
    if credential is None:
        return explain_auth_failure(stderr, url_host(repo_url), None)
    return explain_auth_failure(
        stderr,
        url_host(repo_url),
        credential.name or "(unnamed)",
        provider=credential.provider,
        credential_type=credential.credential_type,
    )
