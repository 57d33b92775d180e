"""Server settings, by concern:

values.py   the value types (sizes, durations, host lists, limits...) and their checks
table.py    SETTINGS_TABLE: every [server] and [kubernetes] setting, its type, default, doc
model.py    Settings, the frozen typed result
loader.py   load_settings: defaults, then the TOML file, [agents.NAME] and
            [repositories."URL-PATTERN"] tables
"""

from ckrv.settings.loader import load_settings
from ckrv.settings.model import Settings
from ckrv.settings.table import SETTINGS_TABLE
from ckrv.settings.values import LIMIT_KEYS, address_list, allowed_hosts, cpu_seconds

__all__ = [
    "LIMIT_KEYS",
    "SETTINGS_TABLE",
    "Settings",
    "address_list",
    "allowed_hosts",
    "cpu_seconds",
    "load_settings",
]
