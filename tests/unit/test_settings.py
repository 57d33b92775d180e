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


def test_connection_deadlines_that_would_not_bound_slow_clients_or_close_all_are_refused(
    tmp_path: Path,
) -> None:
    import pytest

    from ckrv.errors import ConfigError
    from ckrv.settings import load_settings

    config = tmp_path / "ckrv.toml"
    for setting, said in [
        ('body_timeout = "0s"', r"body_timeout .*from 1s to 1h"),
        ('body_timeout = "2h"', r"body_timeout .*from 1s to 1h"),
        ('header_timeout = "0s"', r"header_timeout .*from 1s to 1h"),
        ('keep_alive_timeout = "0s"', r"keep_alive_timeout .*from 1s to 1h"),
        ("body_min_rate = 10", r"body_min_rate .*at least 1K"),
    ]:
        config.write_text(f"[server]\n{setting}\n")
        with pytest.raises(ConfigError, match=said):
            load_settings(tmp_path, config)
    config.write_text('[server]\nbody_timeout = "2m"\nbody_min_rate = "64K"\n')
    settings = load_settings(tmp_path, config)
    assert (settings.body_timeout, settings.body_min_rate) == (120.0, 64 * 1024)
