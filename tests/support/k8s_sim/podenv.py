"""How the kubelet builds a container's environment: the image's ENV, then `envFrom` Secrets,
then `env` (values, `secretKeyRef`, `fieldRef`), where volume mounts live on this host, and the
files of the Secret volumes a container mounts."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from tests.support.k8s_sim.images import Image
from tests.support.k8s_sim.store import RESOURCES, Obj, Store

SECRETS = RESOURCES["secrets"]
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class ContainerConfigError(Exception):
    """What the kubelet reports as CreateContainerConfigError."""


class EnvResolver:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _secret(self, namespace: str, name: str, optional: bool) -> dict[str, str] | None:
        secret = self.store.find(SECRETS, namespace, name)
        if secret is None:
            if optional:
                return None
            raise ContainerConfigError(f'secret "{name}" not found')
        return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}

    def environment(
        self, namespace: str, pod: Obj, spec: Obj, image: Image, sandbox: Path
    ) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **image.env,
            "HOSTNAME": pod["metadata"]["name"],
            "HOME": str(sandbox / "home"),
            "TMPDIR": str(sandbox / "tmp"),
            "KUBERNETES_SERVICE_HOST": "10.43.0.1",
            "KUBERNETES_SERVICE_PORT": "443",
        }
        for source in spec.get("envFrom") or []:
            ref = source.get("secretRef")
            if ref is None:
                raise ContainerConfigError("configMapRef is not simulated")
            data = self._secret(namespace, ref["name"], bool(ref.get("optional")))
            for key, data_value in (data or {}).items():
                name = str(source.get("prefix", "")) + key
                if ENV_NAME.match(name):  # the kubelet skips invalid names (with an event)
                    env[name] = data_value
        for item in spec.get("env") or []:
            value = self._env_value(namespace, pod, item)
            if value is not None:
                env[item["name"]] = value
        mounts = self.mounts(sandbox, spec)
        self._secret_volumes(namespace, pod, spec, sandbox)
        return {k: in_sandbox(v, mounts) for k, v in env.items()}

    def _secret_volumes(self, namespace: str, pod: Obj, spec: Obj, sandbox: Path) -> None:
        """Write the files of the Secret volumes this container mounts (in its volume's
        directory, with the volume's defaultMode)."""
        mounted = {m["name"] for m in spec.get("volumeMounts") or []}
        for volume in pod["spec"].get("volumes") or []:
            source = volume.get("secret")
            if source is None or volume["name"] not in mounted:
                continue
            data = self._secret(namespace, source["secretName"], bool(source.get("optional")))
            directory = sandbox / "volumes" / volume["name"]
            for key, value in (data or {}).items():
                path = directory / key
                path.write_text(value)
                path.chmod(int(source.get("defaultMode", 0o644)))

    @staticmethod
    def mounts(sandbox: Path, spec: Obj) -> dict[str, Path]:
        """Where the container's volume mounts live on this host: a process cannot see a
        container's mount namespace, so paths under a mount are rewritten to its directory."""
        mounts = {}
        for mount in spec.get("volumeMounts") or []:
            path = sandbox / "volumes" / mount["name"]
            path.mkdir(parents=True, exist_ok=True)
            mounts[mount["mountPath"].rstrip("/")] = path
        return mounts

    def _env_value(self, namespace: str, pod: Obj, item: Obj) -> str | None:
        if "valueFrom" not in item:
            return str(item.get("value", ""))
        source = item["valueFrom"]
        if ref := source.get("secretKeyRef"):
            data = self._secret(namespace, ref["name"], bool(ref.get("optional")))
            if data is None:
                return None
            if ref["key"] not in data:
                if ref.get("optional"):
                    return None
                raise ContainerConfigError(
                    f"couldn't find key {ref['key']} in Secret {namespace}/{ref['name']}"
                )
            return str(data[ref["key"]])
        if ref := source.get("fieldRef"):
            path = ref["fieldPath"]
            meta = pod["metadata"]
            fields = {
                "metadata.name": str(meta["name"]),
                "metadata.namespace": namespace,
                "metadata.uid": str(meta.get("uid", "")),
                "spec.nodeName": "sim-node",
            }
            return fields.get(path, "")
        raise ContainerConfigError(f"unsupported valueFrom in env {item['name']}")


def in_sandbox(value: str, mounts: dict[str, Path]) -> str:
    for mount_path, host in mounts.items():
        if value == mount_path or value.startswith(mount_path + "/"):
            return str(host) + value[len(mount_path) :]
    return value
