"""The manifests in k8s/ and the Job the executor renders, checked against the official
Kubernetes OpenAPI schemas (kubernetes-validate ships them: no network, no cluster), strictly
(unknown fields are errors), plus the properties the issue asks of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from ckrv.errors import ConfigError
from ckrv.server.executors.base import Launch
from ckrv.server.executors.k8s_manifest import load_template, render_job, render_secret
from ckrv.settings import Settings, load_settings
from tests.support.helpers import ROOT

K8S = ROOT / "k8s"
VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
MANIFESTS = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def sample_objects(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    launch = Launch(
        "3f8a9b2c-1d4e-4f5a-8b6c-7d8e9f0a1b2c",
        {
            "CKRV_API_URL": "http://127.0.0.1:8420/v1",
            "CKRV_JOB_ID": "3f8a9b2c-1d4e-4f5a-8b6c-7d8e9f0a1b2c",
            "CKRV_JOB_TOKEN": "secret-token",
        },
        5400.0,
    )
    job = render_job(load_template(settings.kubernetes_job_template), settings, launch)
    created = {
        **job,
        "metadata": {**job["metadata"], "uid": "0b9d6f3e-3c35-4d8e-9a55-1f0e2a7c9d11"},
    }
    return job, render_secret(settings, launch, created)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", MANIFESTS)
def test_every_manifest_is_valid_for_kubernetes(name: str, version: str) -> None:
    docs = documents(name)
    assert docs, f"{name} holds no object"
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_job_and_secret_rendered_for_a_sample_job_are_valid(
    tmp_path: Path, version: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        kubernetes_runtime_class="gvisor",
        kubernetes_extra_labels={"team": "platform"},
    )
    job, secret = sample_objects(settings)
    kubernetes_validate.validate(job, version, strict=True)
    kubernetes_validate.validate(secret, version, strict=True)
    assert job["spec"]["template"]["spec"]["runtimeClassName"] == "gvisor"
    assert job["spec"]["activeDeadlineSeconds"] == 5400
    assert "secret-token" not in yaml.safe_dump(job)


def test_a_bare_user_template_still_gets_the_security_baseline(tmp_path: Path) -> None:
    template = tmp_path / "mine.yaml"
    template.write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n"
        "  template:\n    spec:\n      restartPolicy: OnFailure\n"
        "      containers: [{name: main, image: busybox}]\n"
    )
    settings = Settings(data_dir=tmp_path, kubernetes_job_template=str(template))
    job, _ = sample_objects(settings)
    kubernetes_validate.validate(job, VERSIONS[-1], strict=True)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert (pod["restartPolicy"], pod["automountServiceAccountToken"]) == ("Never", False)
    assert job["spec"]["backoffLimit"] == 0
    assert container["name"] == "worker" and container["image"] == "ckrv-worker:latest"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_a_template_that_is_not_a_job_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "pod.yaml"
    template.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")
    with pytest.raises(ConfigError, match="must be one batch/v1 Job"):
        load_template(str(template))


def test_the_packaged_job_template_is_the_one_in_k8s() -> None:
    packaged = ROOT / "ckrv" / "server" / "executors" / "job-template.yaml"
    assert packaged.read_bytes() == (K8S / "job-template.yaml").read_bytes()


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    generated = {f for g in kustomization["configMapGenerator"] for f in g["files"]}
    listed = set(kustomization["resources"]) | generated
    on_disk = {p.name for p in K8S.iterdir() if p.name != "kustomization.yaml"}
    assert listed == on_disk
    assert "job-template.yaml" not in kustomization["resources"]  # a template, not a Job to run


def test_the_in_cluster_config_is_a_valid_ckrv_config(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, K8S / "ckrv.toml")
    assert settings.executor == "kubernetes"
    assert settings.kubernetes_namespace == "ckrv-jobs"
    assert settings.kubernetes_kubeconfig == ""  # in-cluster service account
    server = documents("server.yaml")
    deployment = next(d for d in server if d["kind"] == "Deployment")
    mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    config_dir = next(m["mountPath"] for m in mounts if m["name"] == "config")
    assert settings.kubernetes_job_template == f"{config_dir}/job-template.yaml"


def test_rbac_grants_the_server_exactly_what_the_executor_uses_in_the_jobs_namespace() -> None:
    docs = documents("rbac.yaml")
    roles = [d for d in docs if d["kind"] in {"Role", "ClusterRole"}]
    assert [r["kind"] for r in roles] == ["Role"]
    role = roles[0]
    assert role["metadata"]["namespace"] == "ckrv-jobs"
    rules = {
        (g, r): set(rule["verbs"])
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert rules == {
        ("batch", "jobs"): {"create", "get", "list", "watch", "delete"},
        ("", "secrets"): {"create", "get", "list", "patch", "delete"},
        ("", "pods"): {"get", "list", "watch"},
        ("", "pods/log"): {"get"},
    }
    bindings = [d for d in docs if d["kind"] in {"RoleBinding", "ClusterRoleBinding"}]
    subjects = {s["name"] for b in bindings for s in b["subjects"]}
    assert subjects == {"ckrv-server"}  # the worker's account is bound to nothing
    worker = next(
        d for d in docs if d["kind"] == "ServiceAccount" and d["metadata"]["name"] == "ckrv-worker"
    )
    assert worker["automountServiceAccountToken"] is False


def test_the_server_deployment_is_a_single_recreated_replica_with_probes_and_storage() -> None:
    docs = documents("server.yaml")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
    assert any(
        d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"] == claim for d in docs
    )
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_worker_egress_allows_dns_the_server_and_git_hosts_only() -> None:
    policy = next(
        d for d in documents("networkpolicy.yaml") if d["metadata"]["name"] == "ckrv-worker-egress"
    )
    assert policy["metadata"]["namespace"] == "ckrv-jobs"
    ports = sorted(
        (p["protocol"], p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"]
    )
    assert ports == [("TCP", 22), ("TCP", 53), ("TCP", 443), ("TCP", 8420), ("UDP", 53)]


def test_the_example_server_config_is_valid(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, ROOT / "server" / "ckrv.example.toml")
    assert settings.kubernetes_extra_labels == {"team": "platform"}
    assert "my-agent" in settings.agents


def _dockerfile(name: str, instruction: str) -> list[str]:
    """The JSON-form argument of the last `instruction` in the Dockerfile."""
    import json

    lines = (ROOT / name).read_text().splitlines()
    value = [line.split(" ", 1)[1] for line in lines if line.startswith(instruction + " ")][-1]
    return list(json.loads(value))


def test_the_simulated_worker_image_matches_the_real_one() -> None:
    """The simulated kubelet runs what worker/Dockerfile would: same ENTRYPOINT and CMD, and the
    Job template's args go through that entrypoint."""
    from tests.support.k8s_sim.images import worker_image

    image = worker_image()
    entrypoint = _dockerfile("worker/Dockerfile", "ENTRYPOINT")
    assert tuple(entrypoint) == image.entrypoint
    assert tuple(_dockerfile("worker/Dockerfile", "CMD")) == image.cmd
    assert f"worker/entrypoint.sh {entrypoint[0]}" in (ROOT / "worker" / "Dockerfile").read_text()
    container = documents("job-template.yaml")[0]["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container and container["args"] == list(image.cmd)
    assert _dockerfile("server/Dockerfile", "ENTRYPOINT") == ["ckrv"]


@pytest.mark.parametrize("mode", ["open", "none", "allowlist"])
def test_a_jobs_network_mode_labels_its_pod_and_only_open_pods_may_reach_any_host(
    tmp_path: Path, mode: str
) -> None:
    settings = Settings(data_dir=tmp_path)
    launch = Launch("3f8a9b2c-1d4e-4f5a-8b6c-7d8e9f0a1b2c", {"CKRV_JOB_TOKEN": "t"}, 60, mode)
    job = render_job(load_template(""), settings, launch)
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["ckrv.dev/network"] == mode
    policies = [
        d for d in documents("networkpolicy.yaml") if d["metadata"]["namespace"] == "ckrv-jobs"
    ]
    applying = {
        p["metadata"]["name"]
        for p in policies
        if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    }
    open_policy = {"ckrv-worker-egress", "ckrv-worker-egress-open"}
    assert applying == (open_policy if mode == "open" else {"ckrv-worker-egress"})


@pytest.mark.parametrize("version", VERSIONS)
def test_a_jobs_memory_and_disk_limits_size_the_pod_beside_the_workers_headroom(
    tmp_path: Path, version: str
) -> None:
    settings = Settings(data_dir=tmp_path, kubernetes_memory="2Gi", kubernetes_cpu="1")
    limits = {"memory": 2**30, "disk": 5 * 2**30, "cpu_time": 600}
    launch = Launch(
        "3f8a9b2c-1d4e-4f5a-8b6c-7d8e9f0a1b2c", {"CKRV_JOB_TOKEN": "t"}, 60, "open", limits
    )
    job = render_job(load_template(""), settings, launch)
    kubernetes_validate.validate(job, version, strict=True)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {
        "cpu": "1",
        "memory": str(2**30 + 256 * 2**20),
        "ephemeral-storage": str(6 * 2**30),
    }
    # without job limits the [kubernetes] table holds, as before
    bare = render_job(load_template(""), settings, Launch(launch.job_id, {}, 60))
    (container,) = bare["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
