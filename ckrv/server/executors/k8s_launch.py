"""How a Kubernetes worker receives its launch environment without any of it in a container's
environment or in the container the agent runs in.

The agent shares the worker's container and user, so neither `envFrom` (the values would be in
the worker's execve environment, /proc/1/environ) nor a Secret volume in that container (the
agent could read the file for the whole job) keeps them from it. Instead:

- the job's Secret holds one key, `launch.json` (variable name -> value: the worker's whole
  launch environment), and is mounted only in an init container;
- the init container copies that file into a memory-backed emptyDir shared with the worker;
- the worker (ckrv/contracts/secret_channel.py, CKRV_LAUNCH_FILE) reads it and deletes it first
  thing, made non-dumpable, before it starts any command."""

from __future__ import annotations

import json
from typing import Any

from ckrv.contracts.secret_channel import LAUNCH_FILE as LAUNCH_FILE_ENV

LAUNCH_KEY = "launch.json"
SECRET_VOLUME = "ckrv-launch-secret"
LAUNCH_VOLUME = "ckrv-launch"
INIT_CONTAINER = "ckrv-launch"
SECRET_DIR = "/var/run/ckrv/secret"
LAUNCH_DIR = "/var/run/ckrv/launch"
_COPY = 'umask 077 && cp "$CKRV_LAUNCH_SECRET" "$CKRV_LAUNCH_FILE.part" && mv "$CKRV_LAUNCH_FILE.part" "$CKRV_LAUNCH_FILE"'

Obj = dict[str, Any]


def secret_data(env: dict[str, str]) -> dict[str, str]:
    """The Secret's data (before base64): the launch environment as one file."""
    return {LAUNCH_KEY: json.dumps(env)}


def launch_file() -> str:
    return f"{LAUNCH_DIR}/{LAUNCH_KEY}"


def wire(pod: Obj, container: Obj, secret: str, image: str) -> Obj:
    """Add the volumes, the init container and the worker's CKRV_LAUNCH_FILE to the pod;
    remove any `envFrom` of the Secret a template may carry. Returns the init container (for
    the caller to harden like the worker's)."""
    container["envFrom"] = [
        s for s in container.get("envFrom") or [] if s.get("secretRef", {}).get("name") != secret
    ]
    if not container["envFrom"]:
        del container["envFrom"]
    env = [e for e in container.get("env") or [] if e.get("name") != LAUNCH_FILE_ENV]
    container["env"] = [*env, {"name": LAUNCH_FILE_ENV, "value": launch_file()}]
    _mount(container, LAUNCH_VOLUME, LAUNCH_DIR)
    volumes = [
        v for v in pod.get("volumes") or [] if v.get("name") not in (SECRET_VOLUME, LAUNCH_VOLUME)
    ]
    pod["volumes"] = [
        *volumes,
        {"name": SECRET_VOLUME, "secret": {"secretName": secret, "defaultMode": 0o440}},
        {"name": LAUNCH_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
    ]
    init = {
        "name": INIT_CONTAINER,
        "image": image,
        "command": ["sh", "-c", _COPY],
        "env": [
            {"name": "CKRV_LAUNCH_SECRET", "value": f"{SECRET_DIR}/{LAUNCH_KEY}"},
            {"name": LAUNCH_FILE_ENV, "value": launch_file()},
        ],
        "resources": {
            "requests": {"cpu": "50m", "memory": "32Mi"},
            "limits": {"cpu": "200m", "memory": "64Mi"},
        },
        "volumeMounts": [
            {"name": SECRET_VOLUME, "mountPath": SECRET_DIR, "readOnly": True},
            {"name": LAUNCH_VOLUME, "mountPath": LAUNCH_DIR},
        ],
    }
    others = [c for c in pod.get("initContainers") or [] if c.get("name") != INIT_CONTAINER]
    pod["initContainers"] = [init, *others]
    return init


def _mount(container: Obj, volume: str, path: str) -> None:
    mounts = [m for m in container.get("volumeMounts") or [] if m.get("name") != volume]
    container["volumeMounts"] = [*mounts, {"name": volume, "mountPath": path}]
