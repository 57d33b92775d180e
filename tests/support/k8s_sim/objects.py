"""What kube-apiserver does to an object on create: validation (422 with the real field paths),
defaulting, and for Jobs the labels and selector it adds. Also the Pod a Job's controller
stamps out of its template."""

from __future__ import annotations

import base64
import binascii
import copy
import re
import secrets
import string
from typing import Any

from tests.support.k8s_sim.clock import now_iso
from tests.support.k8s_sim.store import RESOURCES, Obj, invalid

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
SECRET_MAX_BYTES = 1024 * 1024


def _name_errors(meta: Obj, limit: int) -> list[str]:
    name = meta.get("name", "")
    if not name:
        return ["metadata.name: Required value: name or generateName is required"]
    if len(name) > limit or not DNS_SUBDOMAIN.match(name):
        return [
            f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain of at '
            f"most {limit} characters"
        ]
    return []


def _label_errors(meta: Obj, path: str = "metadata.labels") -> list[str]:
    errors = []
    for key, value in (meta.get("labels") or {}).items():
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            errors.append(
                f'{path}: Invalid value: "{value}": a valid label must be 63 characters '
                "or less, alphanumeric, '-', '_' or '.'"
            )
        if not key or len(key.split("/")[-1]) > 63:
            errors.append(
                f'{path}: Invalid value: "{key}": name part must be 63 characters or less'
            )
    return errors


def admit_secret(obj: Obj) -> Obj:
    """Validate and default a Secret; fold `stringData` into `data` as the API server does."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    errors = _name_errors(meta, 253) + _label_errors(meta)
    data: dict[str, str] = dict(obj.get("data") or {})
    for key, value in (obj.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    size = 0
    for key, value in data.items():
        if not SECRET_KEY.match(key):
            errors.append(
                f'data[{key}]: Invalid value: "{key}": a valid config key must consist '
                "of alphanumeric characters, '-', '_' or '.'"
            )
        try:
            size += len(base64.b64decode(value, validate=True))
        except (binascii.Error, TypeError):
            errors.append(f"data[{key}]: Invalid value: illegal base64 data")
    if size > SECRET_MAX_BYTES:
        errors.append(f"data: Too long: must have at most {SECRET_MAX_BYTES} bytes")
    if errors:
        raise invalid(RESOURCES["secrets"], meta.get("name", ""), errors)
    obj["data"] = data
    obj.setdefault("type", "Opaque")
    return obj


def _container_errors(path: str, container: Obj) -> list[str]:
    errors = []
    if not DNS_LABEL.match(container.get("name", "")):
        errors.append(f"{path}.name: Invalid value: {container.get('name')!r}")
    if not container.get("image"):
        errors.append(f"{path}.image: Required value")
    for i, env in enumerate(container.get("env") or []):
        if not env.get("name"):
            errors.append(f"{path}.env[{i}].name: Required value")
        if "value" in env and "valueFrom" in env:
            errors.append(
                f"{path}.env[{i}].valueFrom: Invalid value: may not be specified when "
                "`value` is not empty"
            )
    for i, source in enumerate(container.get("envFrom") or []):
        if not (source.get("secretRef") or source.get("configMapRef")):
            errors.append(
                f"{path}.envFrom[{i}]: Invalid value: must specify one of: "
                "`configMapRef` or `secretRef`"
            )
    return errors


def _job_spec_errors(spec: Obj) -> list[str]:
    errors = []
    template = spec.get("template") or {}
    pod = template.get("spec") or {}
    if pod.get("restartPolicy") not in {"Never", "OnFailure"}:
        errors.append(
            f"spec.template.spec.restartPolicy: Unsupported value: "
            f'"{pod.get("restartPolicy", "")}": supported values: "OnFailure", "Never"'
        )
    containers = pod.get("containers") or []
    if not containers:
        errors.append("spec.template.spec.containers: Required value")
    for i, container in enumerate(containers):
        errors += _container_errors(f"spec.template.spec.containers[{i}]", container)
    for field in ("activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        value = spec.get(field)
        if value is not None and (
            not isinstance(value, int)
            or value < 0
            or (field == "activeDeadlineSeconds" and value == 0)
        ):
            errors.append(
                f"spec.{field}: Invalid value: {value}: must be greater than "
                f"{'0' if field == 'activeDeadlineSeconds' else 'or equal to 0'}"
            )
    errors += _label_errors(template.get("metadata") or {}, "spec.template.metadata.labels")
    return errors


def _default_container(container: Obj) -> None:
    image = container.get("image", "")
    tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
    container.setdefault("imagePullPolicy", "IfNotPresent" if tagged or "@" in image else "Always")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})


def admit_job(obj: Obj, uid_hint: str) -> Obj:
    """Validate and default a Job. `uid_hint` is the uid the store will give it (the API server
    writes it into the selector and the template's labels)."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    spec = obj.setdefault("spec", {})
    errors = _name_errors(meta, 63) + _label_errors(meta) + _job_spec_errors(spec)
    if errors:
        raise invalid(RESOURCES["jobs"], meta.get("name", ""), errors)
    for key, value in {
        "parallelism": 1,
        "completions": 1,
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed",
        "manualSelector": False,
    }.items():
        spec.setdefault(key, value)
    controller = {
        "batch.kubernetes.io/controller-uid": uid_hint,
        "batch.kubernetes.io/job-name": meta["name"],
        "controller-uid": uid_hint,
        "job-name": meta["name"],
    }
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid_hint}}
    template_meta = spec["template"].setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), **controller}
    pod = spec["template"]["spec"]
    for key, value in {
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
        "securityContext": {},
    }.items():
        pod.setdefault(key, value)
    for container in pod["containers"]:
        _default_container(container)
    obj["status"] = {}
    return obj


def pod_for_job(job: Obj) -> Obj:
    """The Pod the Job controller creates: `<job>-<5 chars>`, the template's labels, an
    ownerReference to the Job that blocks its foreground deletion."""
    meta = job["metadata"]
    suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
    template = copy.deepcopy(job["spec"]["template"])
    pod_meta: dict[str, Any] = {
        "name": f"{meta['name']}-{suffix}",
        "generateName": f"{meta['name']}-",
        "labels": template.get("metadata", {}).get("labels", {}),
        "annotations": template.get("metadata", {}).get("annotations", {}),
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    return {
        "metadata": pod_meta,
        "spec": template["spec"],
        "status": {"phase": "Pending", "qosClass": "Guaranteed"},
    }


def condition(kind: str, reason: str = "", message: str = "", status: str = "True") -> Obj:
    stamp = now_iso()
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
    }
