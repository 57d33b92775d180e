"""Settings: the typed, frozen result of loading, one field per row of the table plus the
agent and repository tables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ckrv.contracts.agents import AgentConfig
from ckrv.contracts.network import Layer, NetworkMode


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
    body_timeout: float = 30.0
    body_min_rate: int = 16 * 1024
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
