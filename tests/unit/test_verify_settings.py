"""Where a job's verify commands come from: its own, else the first matching
`[repositories."URL-PATTERN"]` table's `verify` (else the worker runs the agent's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ckrv.errors import ConfigError, InvalidRequest
from ckrv.server.jobs.verify import job_verify, settled_verify
from ckrv.settings import Settings, load_settings

CONFIG = """
[server]
max_fix_rounds = 2

[repositories."https://git.corp.example/*"]
verify = ["make lint", "make test"]
network = "open"
"""


def _settings(tmp_path: Path, text: str = CONFIG) -> Settings:
    path = tmp_path / "ckrv.toml"
    path.write_text(text)
    return load_settings(tmp_path, path)


def test_the_repository_table_gives_verify_commands_unless_the_job_has_its_own(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    corp = {"verify": None, "git_repo_url": "https://git.corp.example/a/b"}
    assert settled_verify(corp, settings) == ("make lint", "make test")
    own, rounds = job_verify(settings, {"verify": ["pytest -q"], "fix_rounds": 2})
    assert settled_verify({**corp, "verify": own}, settings) == ("pytest -q",) and rounds == 2
    elsewhere = {"verify": None, "git_repo_url": "https://github.com/a/b"}
    assert settled_verify(elsewhere, settings) == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"fix_rounds": 3}, r"over this server's max_fix_rounds \(2\)"),
        ({"fix_rounds": -1}, "fix_rounds must be a whole number"),
        ({"verify": "pytest"}, "verify must be a list"),
        ({"verify": [" "]}, "verify must be a list"),
    ],
)
def test_bad_verify_options_are_refused(tmp_path: Path, body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        job_verify(_settings(tmp_path), body)


def test_a_repository_verify_must_be_a_list_of_commands(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="verify is a list of shell commands"):
        _settings(tmp_path, '[repositories."x"]\nverify = "make test"\n')
