"""Fixtures for a test module whose user works in a real checkout against the module's `live`
server: `api` (httpx, as the user), `checkout` (a clone of the module's `origin`) and `ckrv`
(the CLI in-process in that checkout, signed in as the user).

A module defines `token` (its user) and `origin` (its repository) and imports what it uses:
    from tests.support.user_checkout import api, checkout, ckrv
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import Server, git
from tests.support.inprocess import InProcessCli


@pytest.fixture
def api(live: Server, token: str) -> Iterator[httpx.Client]:
    with live.client(token) as client:
        yield client


@pytest.fixture
def checkout(origin: Path, tmp_path: Path) -> Path:
    git(tmp_path, "clone", "-q", str(origin), "work")
    return tmp_path / "work"


@pytest.fixture
def ckrv(live: Server, token: str, checkout: Path, tmp_path: Path) -> InProcessCli:
    (tmp_path / "cli-config").mkdir()
    return InProcessCli(
        config_dir=tmp_path / "cli-config", api_url=live.api_url, token=token, cwd=checkout
    )
