"""The one table of server settings: (section, key, converter, default, doc). The config
loader and the README's config reference read it; a test keeps its defaults equal to the
Settings dataclass's."""

from __future__ import annotations

import os
from typing import Any

from ckrv.contracts.network import check_mode
from ckrv.settings.values import (
    address_list,
    allowed_hosts,
    body_min_rate,
    connection_timeout,
    count,
    cpu_seconds,
    duration,
    sandbox_mode,
    secrets_total,
    size,
)

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
        duration,
        3600.0,
        "Default time a job may run before it ends `timeout`.",
    ),
    ("server", "max_job_timeout", duration, 6 * 3600.0, "Largest timeout a job may ask for."),
    (
        "server",
        "artifact_retention",
        duration,
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
    ("server", "access_token_ttl", duration, 900.0, "Lifetime of an access token (JWT)."),
    (
        "server",
        "refresh_token_ttl",
        duration,
        30 * 86400.0,
        "Absolute lifetime of a refresh token chain; the user logs in again after it.",
    ),
    ("server", "device_code_ttl", duration, 900.0, "How long a device-flow code stays valid."),
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
        connection_timeout,
        10.0,
        "How long a connection may take to send a request's head (line and headers) before "
        "it is closed (1s to 1h): slow or silent connections cannot pile up.",
    ),
    (
        "server",
        "body_timeout",
        connection_timeout,
        30.0,
        "How long a request's body may take once its head has arrived, plus one second for "
        "every `body_min_rate` bytes received (1s to 1h). A body trickled or stalled past it "
        "is answered 408 and its connection closed, so slow senders cannot hold connections "
        "and request memory.",
    ),
    (
        "server",
        "body_min_rate",
        body_min_rate,
        16 * 1024,
        "The slowest pace a body may keep, in bytes per second (at least 1K). A rate besides "
        "the deadline, because a fixed deadline would cut a worker's large artifact upload on a "
        "slow link: at this pace an upload of any size goes through, and holding a connection "
        "costs a client this much traffic a second (16K is 128 kbit/s; every one of 4096 "
        "connections held so takes 512 Mbit/s).",
    ),
    (
        "server",
        "keep_alive_timeout",
        connection_timeout,
        20.0,
        "How long an idle keep-alive connection stays open between requests (1s to 1h); keep "
        "it above `device_poll_interval` so a polling CLI reuses its connection.",
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
        duration,
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
