"""The simulated cluster itself, through the official client: the executor's tests are only as
good as its fidelity, so the behaviours they lean on are pinned here (Status errors, watch
replay and 410, selectors, garbage collection per propagation policy, TTL, pods/log)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.watch.watch import iter_resp_lines

from tests.support.helpers import ROOT, wait_for
from tests.support.k8s_sim import FAKE_IMAGE, SimCluster, policy_from_manifests

NS = "ckrv-jobs"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimCluster]:
    cluster = SimCluster(tmp_path / "node").start()
    yield cluster
    cluster.stop()


@pytest.fixture
def kube(sim: SimCluster, tmp_path: Path) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(str(sim.kubeconfig(tmp_path / "kubeconfig")))
    yield api_client
    api_client.close()


def job(name: str, script: str, **spec: Any) -> dict[str, Any]:
    container = {
        "name": "worker",
        "image": FAKE_IMAGE,
        "env": [{"name": "FAKE_WORKER_SCRIPT", "value": script}],
    }
    return {
        "metadata": {"name": name, "labels": {"app": "t"}},
        "spec": {
            "backoffLimit": 0,
            **spec,
            "template": {
                "metadata": {"labels": {"app": "t"}},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }


def status_of(exc: client.ApiException) -> dict[str, Any]:
    return dict(json.loads(exc.body))


def test_errors_are_status_objects_with_the_real_reasons(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_secret(NS, {"metadata": {"name": "s"}, "stringData": {"K": "v"}})
    with pytest.raises(client.ApiException) as conflict:
        core.create_namespaced_secret(NS, {"metadata": {"name": "s"}})
    assert conflict.value.status == 409
    assert status_of(conflict.value)["reason"] == "AlreadyExists"
    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_secret("nope", NS)
    assert (missing.value.status, status_of(missing.value)["message"]) == (
        404,
        'secrets "nope" not found',
    )
    with pytest.raises(client.ApiException) as invalid:
        core.create_namespaced_secret(NS, {"metadata": {"name": "Bad_Name"}})
    assert invalid.value.status == 422 and status_of(invalid.value)["reason"] == "Invalid"
    with pytest.raises(client.ApiException) as no_namespace:
        core.create_namespaced_secret("elsewhere", {"metadata": {"name": "s"}})
    assert status_of(no_namespace.value)["message"] == 'namespaces "elsewhere" not found'
    # stringData is folded into data, base64, as the API server does
    assert core.read_namespaced_secret("s", NS).data == {"K": "dg=="}


def test_rbac_from_the_manifests_refuses_what_the_role_does_not_grant(
    tmp_path: Path,
) -> None:
    policy = policy_from_manifests(ROOT / "k8s" / "rbac.yaml", "ckrv-job-runner", "ckrv-server")
    sim = SimCluster(tmp_path / "node", namespaces=("ckrv-jobs", "default"), policy=policy).start()
    try:
        api_client = config.new_client_from_config(str(sim.kubeconfig(tmp_path / "kc")))
        core = client.CoreV1Api(api_client)
        core.list_namespaced_pod(NS)  # granted
        with pytest.raises(client.ApiException) as denied:
            core.list_namespaced_secret("default")  # another namespace
        assert denied.value.status == 403
        assert status_of(denied.value)["message"] == (
            'secrets is forbidden: User "system:serviceaccount:ckrv:ckrv-server" cannot list '
            'resource "secrets" in API group "" in the namespace "default"'
        )
        with pytest.raises(client.ApiException) as no_delete:
            core.delete_namespaced_pod("any", NS)  # pods are read-only to the server
        assert no_delete.value.status == 403
        api_client.close()
    finally:
        sim.stop()


def test_watch_replays_from_a_version_and_answers_410_once_it_is_compacted(
    sim: SimCluster, kube: client.ApiClient
) -> None:
    core = client.CoreV1Api(kube)
    version = core.list_namespaced_secret(NS).metadata.resource_version
    core.create_namespaced_secret(NS, {"metadata": {"name": "a", "labels": {"k": "x"}}})
    core.create_namespaced_secret(NS, {"metadata": {"name": "b", "labels": {"k": "y"}}})

    def events(resource_version: str, selector: str = "") -> list[dict[str, Any]]:
        response = core.list_namespaced_secret(
            NS,
            watch=True,
            resource_version=resource_version,
            timeout_seconds=1,
            label_selector=selector,
            _preload_content=False,
        )
        return [json.loads(line) for line in iter_resp_lines(response) if line]

    replayed = events(version, "k in (x,z)")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in replayed] == [("ADDED", "a")]
    assert [e["object"]["metadata"]["name"] for e in events(version, "k,k!=x")] == ["b"]
    sim.compact()
    [error] = events(version)
    assert error["type"] == "ERROR"
    assert (error["object"]["code"], error["object"]["reason"]) == (410, "Expired")


@pytest.mark.parametrize("policy", ["Orphan", "Background", "Foreground"])
def test_deleting_a_job_follows_the_propagation_policy(
    sim: SimCluster, kube: client.ApiClient, policy: str
) -> None:
    batch, core = client.BatchV1Api(kube), client.CoreV1Api(kube)
    created = batch.create_namespaced_job(NS, job("j", "sleep 30"))
    core.create_namespaced_secret(
        NS,
        {
            "metadata": {
                "name": "j",
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": "j",
                        "uid": created.metadata.uid,
                    }
                ],
            }
        },
    )
    pod = wait_for(
        lambda: [p for p in sim.pods_of("j") if p["status"]["phase"] == "Running"],
        what="the pod running",
    )[0]["metadata"]["name"]
    kwargs = {} if policy == "Orphan" else {"propagation_policy": policy}  # Orphan: the default
    batch.delete_namespaced_job("j", NS, **kwargs)
    wait_for(lambda: sim.get("jobs", "j") is None, what="the Job gone")
    if policy == "Foreground":  # the Job waited, marked, for its pod to go
        # Read from the store's history, not a later GET: the pod may be gone, and the Job
        # with it, before the test looks.
        job_changes = sim.changes("jobs", "j")
        marked = [
            o
            for _, kind, o in job_changes
            if kind == "MODIFIED" and o["metadata"].get("deletionTimestamp")
        ]
        assert marked and "foregroundDeletion" in marked[0]["metadata"]["finalizers"]
        job_deleted = next(rv for rv, kind, _ in job_changes if kind == "DELETED")
        pod_deleted = next(rv for rv, kind, _ in sim.changes("pods", pod) if kind == "DELETED")
        assert pod_deleted < job_deleted
    if policy == "Orphan":
        orphan = sim.get("pods", pod)
        assert orphan is not None and orphan["metadata"]["ownerReferences"] == []
        assert sim.get("secrets", "j") is not None
    else:
        wait_for(
            lambda: sim.get("pods", pod) is None and sim.get("secrets", "j") is None,
            what="the pod and the Secret collected",
        )


def test_a_finished_job_is_deleted_after_its_ttl_and_its_logs_follow_and_previous(
    sim: SimCluster, kube: client.ApiClient
) -> None:
    batch, core = client.BatchV1Api(kube), client.CoreV1Api(kube)
    batch.create_namespaced_job(
        NS, job("t", "print one; sleep 0.5; print two", ttlSecondsAfterFinished=1)
    )
    pod = wait_for(
        lambda: [p for p in sim.pods_of("t") if p["status"]["phase"] == "Running"],
        what="the pod running",
    )[0]["metadata"]["name"]
    stream = core.read_namespaced_pod_log(pod, NS, follow=True, _preload_content=False)
    assert list(iter_resp_lines(stream)) == ["one", "two"]  # follows until the container ends
    with pytest.raises(client.ApiException) as previous:
        core.read_namespaced_pod_log(pod, NS, previous=True)
    assert status_of(previous.value)["message"] == (
        f'previous terminated container "worker" in pod "{pod}" not found'
    )
    finished = time.monotonic()
    wait_for(lambda: sim.get("jobs", "t") is None, what="the TTL controller")
    assert time.monotonic() - finished >= 0.5
    assert sim.get("pods", pod) is None
