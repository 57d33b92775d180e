"""The objects the kubernetes executor creates for one job: the Job, built from the template
(k8s/job-template.yaml, or the user's own), and the Secret holding the worker's environment.

The template supplies what a cluster may want to vary (tolerations, node selectors, volumes,
extra env); the executor always imposes what ckrv relies on: name and labels, one try, the
deadline and TTL, the Secret's handover (k8s_launch.py: mounted in an init container only,
never as environment), and the security baseline. No value from the launch environment is ever
written into the Job."""

from __future__ import annotations

import base64
import copy
import hashlib
import math
from importlib import resources
from pathlib import Path
from typing import Any

from ckrv.contracts import launch_env
from ckrv.errors import ConfigError
from ckrv.limits import parse_size
from ckrv.server.executors import k8s_launch
from ckrv.server.executors.base import Launch
from ckrv.settings import Settings

Obj = dict[str, Any]

MANAGED_BY = "app.kubernetes.io/managed-by"
JOB_ID = "ckrv.dev/job-id"
LAUNCH_DIGEST = "ckrv.dev/launch-digest"
NETWORK = "ckrv.dev/network"
SELECTOR = f"{MANAGED_BY}=ckrv"
CONTAINER = "worker"


def job_name(job_id: str) -> str:
    return f"ckrv-job-{job_id}"


def secret_name(job_id: str) -> str:
    return f"ckrv-job-{job_id}-env"


def labels(job_id: str, extra: dict[str, str]) -> dict[str, str]:
    return {**extra, MANAGED_BY: "ckrv", JOB_ID: job_id}


def load_template(path: str) -> Obj:
    """The Job template: the user's file when configured, else the packaged one."""
    import yaml

    try:
        if path:
            text = Path(path).read_text(encoding="utf-8")
        else:
            text = (
                resources.files("ckrv.server.executors")
                .joinpath("job-template.yaml")
                .read_text(encoding="utf-8")
            )
        template = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"cannot read the Job template {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"the Job template {path or '(built-in)'} is not valid YAML: {exc}"
        ) from exc
    check_template(template, path or "(built-in)")
    return template  # type: ignore[no-any-return]


def check_template(template: Any, where: str) -> None:
    if (
        not isinstance(template, dict)
        or template.get("kind") != "Job"
        or template.get("apiVersion") != "batch/v1"
    ):
        raise ConfigError(f"the Job template {where} must be one batch/v1 Job")
    containers = template.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    if not isinstance(containers, list) or not containers:
        raise ConfigError(
            f"the Job template {where} has no containers (spec.template.spec.containers)"
        )


def worker_environment(launch: Launch, server_url: str) -> dict[str, str]:
    """The launch environment, with the URL workers reach the server at from the cluster."""
    env = dict(launch.env)
    if server_url:
        base = server_url.rstrip("/")
        env[launch_env.API_URL] = base if base.endswith("/v1") else f"{base}/v1"
    return env


def launch_digest(env: dict[str, str]) -> str:
    """Tells one launch from another (the job token differs per dispatch attempt) without
    revealing anything: a truncated hash of the token."""
    return hashlib.sha256(env.get(launch_env.JOB_TOKEN, "").encode()).hexdigest()[:20]


def _worker_container(pod: Obj) -> Obj:
    containers: list[Obj] = pod["containers"]
    return next((c for c in containers if c.get("name") == CONTAINER), containers[0])


def _harden(pod: Obj, container: Obj) -> None:
    pod["restartPolicy"] = "Never"
    pod["automountServiceAccountToken"] = False
    pod_security = pod.setdefault("securityContext", {})
    pod_security["runAsNonRoot"] = True
    pod_security["seccompProfile"] = {"type": "RuntimeDefault"}
    security = container.setdefault("securityContext", {})
    security.update(
        allowPrivilegeEscalation=False,
        privileged=False,
        runAsNonRoot=True,
        capabilities={"drop": ["ALL"]},
        seccompProfile={"type": "RuntimeDefault"},
    )


# What the worker itself needs beside the job's commands: its Python, git, the egress proxy.
WORKER_MEMORY = 256 * 1024 * 1024
# Beside the workspace: the clone's objects, the owned git dir, logs and the diff.
WORKER_DISK = 1024 * 1024 * 1024


# A pod's memory when neither the job nor `[kubernetes] memory` gives one.
DEFAULT_POD_MEMORY = "2Gi"


def pod_memory(settings: Settings, launch: Launch) -> str:
    """The job's `memory` limit (the same setting and job option as on the local executor)
    plus the worker's headroom; `[kubernetes] memory`, when set, caps it."""
    job = launch.limits.get("memory", 0)
    derived = job + WORKER_MEMORY if job else 0
    ceiling = settings.kubernetes_memory
    if not ceiling:
        return str(derived) if derived else DEFAULT_POD_MEMORY
    try:
        below = 0 < derived < parse_size(ceiling)
    except ValueError:  # a quantity only Kubernetes understands (e.g. "1e9"): it decides
        below = False
    return str(derived) if below else ceiling


def pod_quantities(settings: Settings, launch: Launch) -> dict[str, str]:
    """The worker container's resources (requests = limits). CPU stays `[kubernetes] cpu`:
    `cpu_time` is CPU seconds, which the worker enforces on the job's commands in the pod."""
    quantities = {"cpu": settings.kubernetes_cpu, "memory": pod_memory(settings, launch)}
    disk = launch.limits.get("disk", 0)
    if disk:
        quantities["ephemeral-storage"] = str(disk + WORKER_DISK)
    return quantities


def render_job(template: Obj, settings: Settings, launch: Launch) -> Obj:
    job_id = launch.job_id
    job = copy.deepcopy(template)
    job_labels = labels(job_id, settings.kubernetes_extra_labels)
    meta = job.setdefault("metadata", {})
    meta.update(
        name=job_name(job_id),
        namespace=settings.kubernetes_namespace,
        labels={**(meta.get("labels") or {}), **job_labels},
    )
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        LAUNCH_DIGEST: launch_digest(launch.env),
    }
    meta.pop("generateName", None)
    spec = job.setdefault("spec", {})
    spec.update(
        backoffLimit=0,
        activeDeadlineSeconds=max(1, math.ceil(launch.timeout_seconds)),
        ttlSecondsAfterFinished=settings.kubernetes_ttl_after_finished,
    )
    pod_template = spec.setdefault("template", {})
    pod_meta = pod_template.setdefault("metadata", {})
    # the NetworkPolicies of k8s/networkpolicy.yaml select job pods by their network mode
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), **job_labels, NETWORK: launch.network}
    pod = pod_template.setdefault("spec", {})
    if settings.kubernetes_runtime_class:
        pod["runtimeClassName"] = settings.kubernetes_runtime_class
    container = _worker_container(pod)
    container["name"] = CONTAINER
    container["image"] = settings.kubernetes_worker_image
    quantities = pod_quantities(settings, launch)
    container["resources"] = {"requests": dict(quantities), "limits": dict(quantities)}
    shadowed = set(launch.env)  # the template must not override what the launch provides
    container["env"] = [e for e in container.get("env") or [] if e.get("name") not in shadowed]
    init = k8s_launch.wire(pod, container, secret_name(job_id), settings.kubernetes_worker_image)
    _harden(pod, container)
    _harden(pod, init)
    init["securityContext"]["readOnlyRootFilesystem"] = True
    return job


def render_secret(settings: Settings, launch: Launch, job: Obj) -> Obj:
    """The job's Secret, owned by its Job (so the garbage collector deletes it with the Job).
    No blockOwnerDeletion: setting it would need update rights on jobs/finalizers."""
    env = worker_environment(launch, settings.kubernetes_server_url)
    meta = job["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(launch.job_id),
            "namespace": settings.kubernetes_namespace,
            "labels": labels(launch.job_id, settings.kubernetes_extra_labels),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": False,
                }
            ],
        },
        "type": "Opaque",
        "data": {
            k: base64.b64encode(v.encode()).decode() for k, v in k8s_launch.secret_data(env).items()
        },
    }
