"""Fixtures of the command-line tests. `ckrv` runs the command in this process (see
inprocess.py); the few tests of the real executable (start-up, lazy imports, terminals,
signals) run it as a process through the subprocess `Cli`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.inprocess import InProcessCli


@pytest.fixture
def ckrv(tmp_path: Path) -> InProcessCli:
    """`ckrv ARGS` in-process with its own config dir and no inherited ckrv settings."""
    return InProcessCli(config_dir=tmp_path / "config")
