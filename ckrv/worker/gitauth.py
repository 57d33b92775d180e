"""How git gets a credential without it touching argv, URLs or .git/config (SECURITY.md 18):
an askpass helper for PATs, a private key file and GIT_SSH_COMMAND for deploy keys.

First version: no credential support, only the protocol restrictions. The credentials work
fills in `credential_env`."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def base_git_env(allow_local: bool) -> dict[str, str]:
    protocols = "https:ssh" + (":file" if allow_local else "")
    return {"GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": protocols, "GIT_CONFIG_NOSYSTEM": "1",
            "GCM_INTERACTIVE": "never"}


def credential_env(credential: dict[str, Any] | None, repo_url: str, private_dir: Path) -> dict[str, str]:
    """Environment that lets git authenticate with `credential` (None: nothing to add)."""
    return {}
