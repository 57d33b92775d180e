"""Where ckrv keeps things on the user's machine (XDG base directories)."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else Path.home() / fallback


def default_data_dir() -> Path:
    explicit = os.environ.get("CKRV_DATA_DIR")
    return Path(explicit) if explicit else _xdg("XDG_DATA_HOME", ".local/share") / "ckrv"


def config_dir() -> Path:
    explicit = os.environ.get("CKRV_CONFIG_DIR")
    return Path(explicit) if explicit else _xdg("XDG_CONFIG_HOME", ".config") / "ckrv"


DEFAULT_API_URL = "http://127.0.0.1:8420/v1"


def api_url(explicit: str | None = None) -> str:
    return (explicit or os.environ.get("CHAKRAVARTI_API_URL") or DEFAULT_API_URL).rstrip("/")
