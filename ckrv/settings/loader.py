"""load_settings: defaults, then the TOML file; unknown sections and keys are errors that name
the known ones."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ckrv.contracts.agents import AgentConfig
from ckrv.contracts.network import Layer, NetworkMode, PolicyError, check_mode, host_patterns
from ckrv.errors import CkrvError, ConfigError
from ckrv.settings.model import Settings, _attr
from ckrv.settings.table import SETTINGS_TABLE
from ckrv.settings.values import LIMIT_CONVERTERS, LIMIT_KEYS
from ckrv.timeutil import parse_duration


def _convert(section: str, key: str, value: Any) -> Any:
    for sec, name, converter, _default, _doc in SETTINGS_TABLE:
        if (sec, name) == (section, key):
            try:
                if converter is bool and not isinstance(value, bool):
                    raise ValueError("expected true or false")
                if converter is dict and not isinstance(value, dict):
                    raise ValueError("expected a table")
                return converter(value)
            except (ValueError, TypeError, CkrvError) as exc:
                raise ConfigError(f"config: [{section}] {key} = {value!r}: {exc}") from exc
    known = ", ".join(n for s, n, *_ in SETTINGS_TABLE if s == section)
    raise ConfigError(f"config: unknown key {key!r} in [{section}]. Known keys: {known}")


def _agent(name: str, table: Any) -> AgentConfig:
    if not isinstance(table, dict) or not isinstance(table.get("command"), list):
        raise ConfigError(f'config: [agents.{name}] needs `command = ["prog", "arg", ...]`')
    known = {
        "command",
        "env",
        "timeout",
        "verify",
        "stdin",
        "network",
        "allowed_hosts",
        *LIMIT_KEYS,
    }
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"config: unknown keys in [agents.{name}]: {', '.join(sorted(unknown))}")
    timeout = table.get("timeout")
    if not isinstance(table.get("stdin", False), bool):
        raise ConfigError(
            f"config: [agents.{name}] stdin = {table['stdin']!r}: expected true or false"
        )
    mode, hosts = _network_keys(f"agents.{name}", table)
    limits = []
    for key in LIMIT_KEYS:
        if key in table:
            try:
                limits.append((key, int(LIMIT_CONVERTERS[key](table[key]))))
            except (ValueError, TypeError, CkrvError) as exc:
                raise ConfigError(f"config: [agents.{name}] {key} = {table[key]!r}: {exc}") from exc
    return AgentConfig(
        name=name,
        command=tuple(str(a) for a in table["command"]),
        env=tuple(str(e) for e in table.get("env", [])),
        timeout=parse_duration(timeout) if timeout is not None else None,
        verify=tuple(str(a) for a in table.get("verify", [])),
        network=mode,
        allowed_hosts=hosts,
        limits=tuple(limits),
        stdin=bool(table.get("stdin", False)),
    )


def _network_keys(where: str, table: dict[str, Any]) -> tuple[NetworkMode | None, tuple[str, ...]]:
    try:
        mode = check_mode(table["network"]) if "network" in table else None
        return mode, host_patterns(table.get("allowed_hosts", []), "allowed_hosts")
    except PolicyError as exc:
        raise ConfigError(f"config: [{where}] {exc}") from exc


def _repositories(tables: Any) -> dict[str, Layer]:
    """`[repositories."URL-PATTERN"]` tables (shell-style patterns matched against a job's
    repository URL; the first match in file order applies): each a network and its hosts."""
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ConfigError('config: [repositories] holds tables: [repositories."URL-PATTERN"]')
    layers: dict[str, Layer] = {}
    for pattern, table in tables.items():
        where = f'repositories."{pattern}"'
        unknown = set(table) - {"network", "allowed_hosts", "verify"}
        if unknown:
            raise ConfigError(f"config: unknown keys in [{where}]: {', '.join(sorted(unknown))}")
        mode, hosts = _network_keys(where, table)
        layers[pattern] = Layer(mode, hosts, f"[{where}] network")
    return layers


def _repository_verify(tables: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The `verify` commands of `[repositories."URL-PATTERN"]` tables (each a shell command)."""
    found: dict[str, tuple[str, ...]] = {}
    for pattern, table in tables.items():
        commands = table.get("verify")
        if commands is None:
            continue
        if not isinstance(commands, list) or not all(
            isinstance(c, str) and c.strip() for c in commands
        ):
            raise ConfigError(
                f'config: [repositories."{pattern}"] verify is a list of shell commands'
            )
        found[pattern] = tuple(commands)
    return found


def load_settings(data_dir: Path, config_file: Path | None = None) -> Settings:
    """Settings from defaults, then the TOML file. Unknown sections and keys are errors."""
    values: dict[str, Any] = {}
    agents: dict[str, AgentConfig] = {}
    repositories: dict[str, Layer] = {}
    repository_verify: dict[str, tuple[str, ...]] = {}
    if config_file is not None:
        try:
            document = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_file} is not valid TOML: {exc}") from exc
        for section, table in document.items():
            if section == "agents" and isinstance(table, dict):
                agents = {name: _agent(name, spec) for name, spec in table.items()}
            elif section == "repositories":
                repositories = _repositories(table)
                repository_verify = _repository_verify(table)
            elif section in {"server", "kubernetes"} and isinstance(table, dict):
                for key, value in table.items():
                    values[_attr(section, key)] = _convert(section, key, value)
            else:
                raise ConfigError(
                    f"config: unknown section [{section}]. Known: [server], [kubernetes], "
                    '[agents.NAME], [repositories."URL-PATTERN"]'
                )
    return Settings(
        data_dir=data_dir,
        agents=agents,
        repositories=repositories,
        repository_verify=repository_verify,
        **values,
    )
