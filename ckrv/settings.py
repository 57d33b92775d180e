"""Server settings: one table (name, type, default, doc) that the config loader and the README's
config reference read; a test keeps the table's defaults equal to the Settings dataclass's."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ckrv.contracts.agents import AgentConfig
from ckrv.contracts.network import Layer, NetworkMode, PolicyError, check_mode, host_patterns
from ckrv.errors import CkrvError, ConfigError
from ckrv.limits import parse_size
from ckrv.timeutil import parse_duration

LIMIT_KEYS = ("memory", "cpu_time", "processes", "disk")


def _duration(value: Any) -> float:
    return parse_duration(value)


def address_list(value: Any) -> tuple[str, ...]:
    """A list of addresses or CIDR networks, each checked."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('expected a list of addresses, e.g. ["127.0.0.1", "10.0.0.0/8"]')
    for entry in value:
        ipaddress.ip_network(entry, strict=False)  # ValueError names the bad one
    return tuple(value)


def allowed_hosts(value: Any) -> tuple[str, ...]:
    """A list of host patterns (`name`, `*.name`, `name:port`, an IP address), each checked."""
    return host_patterns(value, "allowed_hosts")


def sandbox_mode(value: Any) -> str:
    if value not in ("bwrap", "none"):
        raise ValueError('expected "bwrap" or "none"')
    return str(value)


def size(value: Any) -> int:
    return parse_size(value)


def count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected a whole number, 0 for no limit")
    return value


def secrets_total(value: Any) -> int:
    """The cap on a user's secrets. At most 1 MiB: every agent secret is in the agent's
    environment, and Linux gives an `execve`'s arguments and environment together a quarter
    of the stack limit (2 MiB under the usual 8 MiB), the worker's own variables included."""
    total = parse_size(value)
    if not 1024 <= total <= 1024 * 1024:
        raise ValueError("expected a size from 1 KiB to 1 MiB")
    return total


def cpu_seconds(value: Any) -> int:
    seconds = parse_duration(value)
    if seconds < 0:
        raise ValueError("a CPU time cannot be negative")
    return int(seconds)


LIMIT_CONVERTERS: dict[str, Any] = {
    "memory": size,
    "cpu_time": cpu_seconds,
    "processes": count,
    "disk": size,
}

# (section, key, converter, default, doc). Durations accept 90s, 15m, 1h, 7d.
SETTINGS_TABLE: list[tuple[str, str, Any, Any, str]] = [
    ("server", "host", str, "127.0.0.1", "Address to listen on."),
    ("server", "port", int, 8420, "TCP port to listen on."),
    (
        "server",
        "public_url",
        str,
        "",
        "Base URL users reach the server at (links, device flow, "
        "token issuer). Default: http://HOST:PORT.",
    ),
    (
        "server",
        "executor",
        str,
        "local",
        "Where jobs run: `local` (worker subprocesses) or `kubernetes`.",
    ),
    (
        "server",
        "max_concurrent_jobs",
        int,
        os.cpu_count() or 2,
        "Jobs running at once, across all users. Default: the CPU count.",
    ),
    ("server", "default_agent", str, "claude-code", "Agent used when a job names none."),
    (
        "server",
        "log_format",
        str,
        "text",
        "The server's log on stdout (requests, jobs, logins, throttles): `text`, or `json` "
        "(one object per line, for a log collector).",
    ),
    (
        "server",
        "job_timeout",
        _duration,
        3600.0,
        "Default time a job may run before it ends `timeout`.",
    ),
    ("server", "max_job_timeout", _duration, 6 * 3600.0, "Largest timeout a job may ask for."),
    (
        "server",
        "artifact_retention",
        _duration,
        7 * 86400.0,
        "How long diffs, archived logs and specs of ended jobs are kept (the job's record, "
        "title and status stay).",
    ),
    ("server", "max_diff_bytes", int, 50 * 1024 * 1024, "Largest diff a worker may upload."),
    (
        "server",
        "max_fix_rounds",
        int,
        3,
        "Most fix rounds a job may ask for (`--fix-rounds`): after a failing verify, the agent "
        "runs again with the failing output, up to this many times.",
    ),
    (
        "server",
        "max_log_bytes",
        int,
        100 * 1024 * 1024,
        "Disk a job's log may take: each line counts its text, timestamp, level, source and "
        "64 bytes of storage; past it lines are dropped and counted.",
    ),
    (
        "server",
        "max_secrets_bytes",
        secrets_total,
        64 * 1024,
        "Total size of one user's agent secrets (names and values); adding past it is refused "
        "(413). At most 1 MiB: the agent gets every secret in its environment.",
    ),
    (
        "server",
        "allow_local_repositories",
        bool,
        False,
        "Allow file:// URLs, local paths and plain http:// URLs as job repositories. For "
        "development, tests and trying ckrv on one machine only: it lets any user read this "
        "machine's repositories, and http:// fetches code unauthenticated and unencrypted.",
    ),
    (
        "server",
        "refuse_private_hosts",
        bool,
        False,
        "Refuse repository hosts that resolve to loopback, private, link-local or other "
        "special-purpose addresses, at job creation and again when the worker's git connects "
        "(pinned to the checked address, no redirects).",
    ),
    ("server", "allow_ssh_repositories", bool, True, "Accept ssh:// and git@host:path URLs."),
    (
        "server",
        "ssh_known_hosts",
        str,
        "accept-new",
        "known_hosts policy for deploy keys: "
        "`accept-new`, `yes` (strict, uses the server's known_hosts) or `no`.",
    ),
    (
        "server",
        "upgrade_url",
        str,
        "",
        "Link shown when a user's quota is spent; empty: this server's `/account` page.",
    ),
    (
        "server",
        "sandbox",
        sandbox_mode,
        "bwrap",
        "How the local executor confines a job's commands: `bwrap` (bubblewrap: own PID, mount, "
        "IPC and user namespaces; the job sees its workspace and read-only system directories) "
        "or `none` (unconfined: any job can read every other job's files and secrets).",
    ),
    (
        "server",
        "memory",
        size,
        4 * 1024**3,
        "Memory each process of a job's commands may use (4G, 512M; 0: no limit). An agent's "
        "`memory` overrides it.",
    ),
    (
        "server",
        "cpu_time",
        cpu_seconds,
        0,
        "CPU time each process of a job's commands may use (90s, 30m; 0: no limit, the job's "
        "timeout still bounds it). An agent's `cpu_time` overrides it.",
    ),
    (
        "server",
        "processes",
        count,
        1024,
        "Processes a job's command may run at once (0: no limit). An agent's `processes` "
        "overrides it.",
    ),
    (
        "server",
        "disk",
        size,
        20 * 1024**3,
        "Disk a job's workspace may fill (20G; 0: no limit). An agent's `disk` overrides it.",
    ),
    (
        "server",
        "network",
        check_mode,
        "open",
        "What a job's commands may reach: `open` (anything), `allowlist` (only `allowed_hosts` "
        "and the agent's model API, through the worker's filtering proxy) or `none` (nothing). "
        'An `[agents.NAME]` or `[repositories."URL-PATTERN"]` table may set its own.',
    ),
    (
        "server",
        "allowed_hosts",
        allowed_hosts,
        (),
        "Hosts every job may reach under `allowlist`: `name`, `*.name` (names below it), "
        "`name:port` (ports 80 and 443 unless given), or an IP address.",
    ),
    (
        "server",
        "jobs_may_widen_network",
        bool,
        False,
        "Let a job ask for a wider network than the operator's settings give it (`open` where "
        "they say `allowlist`, hosts beyond their list). Off: a job may only narrow.",
    ),
    (
        "server",
        "trusted_proxies",
        address_list,
        (),
        "Addresses or networks (CIDR) of reverse proxies whose `X-Forwarded-For` names the "
        "client. Empty: the header is ignored and the socket's peer is the client.",
    ),
    ("server", "access_token_ttl", _duration, 900.0, "Lifetime of an access token (JWT)."),
    (
        "server",
        "refresh_token_ttl",
        _duration,
        30 * 86400.0,
        "Absolute lifetime of a refresh token chain; the user logs in again after it.",
    ),
    ("server", "device_code_ttl", _duration, 900.0, "How long a device-flow code stays valid."),
    ("server", "device_poll_interval", int, 5, "Seconds a CLI must wait between token polls."),
    (
        "server",
        "device_starts_per_minute",
        int,
        20,
        "Device logins one client address may start per minute (`POST /v1/auth/device`); "
        "past it the answer is 429 with Retry-After. 0: no limit.",
    ),
    (
        "server",
        "header_timeout",
        _duration,
        10.0,
        "How long a connection may take to send a request's head (line and headers) before "
        "it is closed: slow or silent connections cannot pile up.",
    ),
    (
        "server",
        "keep_alive_timeout",
        _duration,
        20.0,
        "How long an idle keep-alive connection stays open between requests; keep it above "
        "`device_poll_interval` so a polling CLI reuses its connection.",
    ),
    (
        "server",
        "max_connections",
        int,
        4096,
        "Connections open at once (live log followers each hold one). Past it the connection "
        "that has waited longest for a request head is closed; when all are busy, new requests "
        "get 503. Kept below the open-file limit (raised to its hard limit at start).",
    ),
    ("kubernetes", "namespace", str, "ckrv-jobs", "Namespace jobs run in."),
    ("kubernetes", "kubeconfig", str, "", "Path to a kubeconfig; empty means in-cluster config."),
    ("kubernetes", "context", str, "", "kubeconfig context to use (default: the current one)."),
    ("kubernetes", "worker_image", str, "ckrv-worker:latest", "Image of the worker container."),
    (
        "kubernetes",
        "server_url",
        str,
        "",
        "URL workers use to reach the server from inside the cluster. Default: the public URL.",
    ),
    ("kubernetes", "cpu", str, "1", "CPU request and limit of a job's pod."),
    (
        "kubernetes",
        "memory",
        str,
        "",
        "Memory request and limit of a job's pod. Empty: the job's `memory` limit plus 256 MiB "
        "for the worker (2Gi when the job has no memory limit); set (e.g. 2Gi), it caps that.",
    ),
    ("kubernetes", "ttl_after_finished", int, 3600, "Seconds Kubernetes keeps a finished Job."),
    (
        "kubernetes",
        "pending_grace",
        _duration,
        120.0,
        "How long a pod may stay Pending with an image or scheduling error before the job fails.",
    ),
    ("kubernetes", "runtime_class", str, "", "RuntimeClass of job pods (e.g. gvisor)."),
    (
        "kubernetes",
        "job_template",
        str,
        "",
        "Path of a Job template to use instead of the built-in k8s/job-template.yaml.",
    ),
    ("kubernetes", "extra_labels", dict, {}, "Labels added to every Job and pod."),
]


def _attr(section: str, key: str) -> str:
    return key if section == "server" else f"{section}_{key}"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8420
    public_url: str = ""
    executor: str = "local"
    max_concurrent_jobs: int = os.cpu_count() or 2
    default_agent: str = "claude-code"
    log_format: str = "text"
    job_timeout: float = 3600.0
    max_job_timeout: float = 6 * 3600.0
    artifact_retention: float = 7 * 86400.0
    max_diff_bytes: int = 50 * 1024 * 1024
    max_fix_rounds: int = 3
    max_log_bytes: int = 100 * 1024 * 1024
    max_secrets_bytes: int = 64 * 1024
    allow_local_repositories: bool = False
    refuse_private_hosts: bool = False
    allow_ssh_repositories: bool = True
    ssh_known_hosts: str = "accept-new"
    upgrade_url: str = ""
    sandbox: str = "bwrap"
    memory: int = 4 * 1024**3
    cpu_time: int = 0
    processes: int = 1024
    disk: int = 20 * 1024**3
    network: NetworkMode = "open"
    allowed_hosts: tuple[str, ...] = ()
    jobs_may_widen_network: bool = False
    trusted_proxies: tuple[str, ...] = ()
    access_token_ttl: float = 900.0
    refresh_token_ttl: float = 30 * 86400.0
    device_code_ttl: float = 900.0
    device_poll_interval: int = 5
    device_starts_per_minute: int = 20
    header_timeout: float = 10.0
    keep_alive_timeout: float = 20.0
    max_connections: int = 4096
    kubernetes_namespace: str = "ckrv-jobs"
    kubernetes_kubeconfig: str = ""
    kubernetes_context: str = ""
    kubernetes_worker_image: str = "ckrv-worker:latest"
    kubernetes_server_url: str = ""
    kubernetes_cpu: str = "1"
    kubernetes_memory: str = ""
    kubernetes_ttl_after_finished: int = 3600
    kubernetes_pending_grace: float = 120.0
    kubernetes_runtime_class: str = ""
    kubernetes_job_template: str = ""
    kubernetes_extra_labels: dict[str, str] = field(default_factory=dict)
    agents: dict[str, AgentConfig] = field(default_factory=dict)
    repositories: dict[str, Layer] = field(default_factory=dict)  # URL pattern -> its network
    # URL pattern -> its verify commands (shell), from the same tables
    repository_verify: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def quota_upgrade_url(self) -> str:
        """Where a user whose quota is spent is sent: always a URL (the API contract's
        clients show a made-up one when there is none)."""
        return self.upgrade_url or f"{self.base_url}/account"

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


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
