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
