"""The settings table (config file, README reference) and the Settings dataclass agree."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ckrv.settings import SETTINGS_TABLE, Settings


def test_every_table_setting_is_a_field_with_the_same_default() -> None:
    defaults = Settings(data_dir=Path("/nonexistent"))
    fields = {f.name for f in dataclasses.fields(Settings)}
    for section, key, _convert, default, _doc in SETTINGS_TABLE:
        name = key if section == "server" else f"{section}_{key}"
        assert name in fields, f"[{section}] {key} has no Settings field"
        assert getattr(defaults, name) == default, f"[{section}] {key}: the defaults differ"


def test_a_keep_alive_not_longer_than_the_poll_interval_is_refused(tmp_path: Path) -> None:
    import pytest

    from ckrv.errors import ConfigError
    from ckrv.server.serving import ServeOptions, resolve_settings

    config = tmp_path / "ckrv.toml"
    config.write_text('[server]\nkeep_alive_timeout = "5s"\ndevice_poll_interval = 5\n')
    with pytest.raises(ConfigError, match=r"keep_alive_timeout .* longer than device_poll"):
        resolve_settings(ServeOptions(data_dir=tmp_path / "data", config=config))
