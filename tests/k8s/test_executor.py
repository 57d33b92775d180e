"""The kubernetes executor on its own, against the simulated cluster (tests/support/k8s_sim) through the
official client: what it creates, what it reports, and how it copes with watch failures,
misbehaving pods and a restart. The simulated API enforces the Role in k8s/rbac.yaml, so every
test also proves the manifests grant what the executor does and no more is needed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ckrv.server.executors.base import Launch, RunningJob
from ckrv.server.executors.k8s_client import KubeError
from ckrv.server.executors.k8s_launch import LAUNCH_VOLUME, SECRET_VOLUME, launch_file
from ckrv.server.executors.k8s_manifest import job_name, secret_name
from ckrv.server.executors.kubernetes import KubernetesExecutor
from ckrv.settings import Settings
from tests.support.helpers import ROOT, wait_for
from tests.support.k8s_sim import FAKE_IMAGE, SimCluster, policy_from_manifests

SECRET_TOKEN = "tok-5f0c1e0e9a7b4d21b3f7c2d9e8a6b4c1"
SECRET_PAT = "ghp_VerySecretPersonalAccessToken123"
SECRET_AGENT_KEY = "sk-ant-api03-agentsecretvalue-xyz"


pytestmark = pytest.mark.anyio


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimCluster]:
    policy = policy_from_manifests(ROOT / "k8s" / "rbac.yaml", "ckrv-job-runner", "ckrv-server")
    cluster = SimCluster(tmp_path / "node", policy=policy).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def settings(sim: SimCluster, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        executor="kubernetes",
        kubernetes_kubeconfig=str(sim.kubeconfig(tmp_path / "kubeconfig")),
        kubernetes_worker_image=FAKE_IMAGE,
        kubernetes_pending_grace=1.0,
        kubernetes_server_url="http://ckrv-server.ckrv.svc:8420",
        kubernetes_memory="256Mi",
        kubernetes_extra_labels={"team": "infra"},
    )


class Recorder:
    """The engine's side: `lost` and `log_sink` calls, awaitable."""

    def __init__(self) -> None:
        self.lost: dict[str, list[str]] = {}
        self.logs: dict[str, list[str]] = {}
        self.changed = asyncio.Event()

    async def on_lost(self, job_id: str, reason: str) -> None:
        self.lost.setdefault(job_id, []).append(reason)
        self.changed.set()

    async def on_logs(self, job_id: str, lines: list[str]) -> None:
        self.logs.setdefault(job_id, []).extend(lines)

    async def reason(self, job_id: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while job_id not in self.lost:
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no report for {job_id}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return self.lost[job_id][0]


def launch_for(job_id: str, script: str, timeout: float = 300, **extra: str) -> Launch:
    credential = json.dumps(
        {
            "provider": "github",
            "credential_type": "pat",
            "value": SECRET_PAT,
            "username": "x-access-token",
        }
    )
    env = {
        "CKRV_API_URL": "http://127.0.0.1:8420/v1",
        "CKRV_JOB_ID": job_id,
        "CKRV_JOB_TOKEN": SECRET_TOKEN + job_id[:4],
        "CKRV_GIT_CREDENTIAL": credential,
        "CKRV_AGENT_SECRETS": json.dumps({"ANTHROPIC_API_KEY": SECRET_AGENT_KEY}),
        "FAKE_WORKER_SCRIPT": script,
        **extra,
    }
    return Launch(job_id, env, timeout)


def job_id(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{os.getpid():012x}"


async def until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


async def settled(sim: SimCluster, executor: KubernetesExecutor) -> None:
    """Wait until the cluster has delivered every event to the executor's open watches and the
    executor has read them, then let the handlers the watch threads posted run: what the
    executor would report by now it has reported."""

    def caught_up() -> bool:
        sent = sim.delivered()
        if sent is None:
            return False
        seen = {w.plural: int(w.resource_version or 0) for w in executor.watches}
        return all(seen.get(plural, 0) >= version for plural, version in sent.items())

    await until(caught_up, what="every event delivered and read")
    for _ in range(5):
        await asyncio.sleep(0)  # a loop iteration each: posted handlers, then what they spawned


@asynccontextmanager
async def executing(
    settings: Settings, start: bool = True
) -> AsyncIterator[tuple[KubernetesExecutor, Recorder]]:
    """A KubernetesExecutor reporting to a Recorder, started unless `start` is False (a test
    that reconciles starts it itself), stopped at the end."""
    recorder = Recorder()
    executor = KubernetesExecutor(settings, log_sink=recorder.on_logs, tick=0.1)
    if start:
        await executor.start(recorder.on_lost)
    try:
        yield executor, recorder
    finally:
        await executor.stop()


async def test_launch_creates_a_secret_owned_by_a_hardened_job_that_never_holds_a_secret(
    sim: SimCluster, settings: Settings, tmp_path: Path
) -> None:
    report = tmp_path / "env.json"
    jid = job_id(1)

    async with executing(settings) as (executor, recorder):
        ref = await executor.launch(launch_for(jid, f"env-to {report}; sleep 0.3", timeout=90))
        assert ref == job_name(jid)
        job = sim.get("jobs", job_name(jid))
        secret = sim.get("secrets", secret_name(jid))
        assert job is not None and secret is not None
        meta, spec = job["metadata"], job["spec"]
        pod = spec["template"]["spec"]
        container = pod["containers"][0]
        for labels in (
            meta["labels"],
            spec["template"]["metadata"]["labels"],
            secret["metadata"]["labels"],
        ):
            assert labels["app.kubernetes.io/managed-by"] == "ckrv"
            assert labels["ckrv.dev/job-id"] == jid
            assert labels["team"] == "infra"
        assert (
            spec["backoffLimit"],
            spec["activeDeadlineSeconds"],
            spec["ttlSecondsAfterFinished"],
        ) == (0, 90, 3600)
        assert pod["restartPolicy"] == "Never"
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert container["image"] == FAKE_IMAGE
        assert container["resources"]["limits"]["memory"] == "256Mi"
        # the Secret is never the worker's environment, and is mounted in the init container
        # only, which copies it to a memory volume the worker reads and then deletes
        assert "envFrom" not in container
        assert {"name": "CKRV_LAUNCH_FILE", "value": launch_file()} in container["env"]
        (init,) = pod["initContainers"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        secret_volumes = {n for n, v in volumes.items() if "secret" in v}
        assert volumes[SECRET_VOLUME]["secret"]["secretName"] == secret_name(jid)
        assert secret_volumes == {SECRET_VOLUME}
        assert volumes[LAUNCH_VOLUME]["emptyDir"]["medium"] == "Memory"
        assert SECRET_VOLUME in {m["name"] for m in init["volumeMounts"]}
        assert SECRET_VOLUME not in {m["name"] for m in container["volumeMounts"]}
        assert init["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        dumped = json.dumps(job)
        for value in (SECRET_TOKEN, SECRET_PAT, SECRET_AGENT_KEY, "CKRV_JOB_TOKEN"):
            assert value not in dumped
            assert base64.b64encode(value.encode()).decode()[:16] not in dumped
        owner = secret["metadata"]["ownerReferences"]
        assert owner == [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": job_name(jid),
                "uid": meta["uid"],
                "controller": False,
            }
        ]
        env = await until(
            lambda: report.exists() and json.loads(report.read_text()),
            what="the worker's environment",
        )
        assert env["CKRV_JOB_ID"] == jid
        assert env["CKRV_JOB_TOKEN"] == SECRET_TOKEN + jid[:4]
        assert json.loads(env["CKRV_GIT_CREDENTIAL"])["value"] == SECRET_PAT
        assert env["CKRV_API_URL"] == "http://ckrv-server.ckrv.svc:8420/v1"
        assert env["__argv__"][0].endswith("fake_worker.py") and env["__argv__"][1] == "worker"
        pods = sim.pods_of(job_name(jid))
        assert SECRET_PAT not in json.dumps(pods)
        # the worker exits 0 without a server to report to: the engine hears about it
        assert await recorder.reason(jid) == "the worker exited without reporting a result"

    assert recorder.logs == {}  # a clean exit is not a crash: no pod log is fetched


async def test_terminate_deletes_the_job_its_pod_and_secret_and_stops_the_worker(
    sim: SimCluster, settings: Settings, tmp_path: Path
) -> None:
    report = tmp_path / "env.json"
    jid = job_id(2)

    async with executing(settings) as (executor, recorder):
        await executor.launch(launch_for(jid, f"env-to {report}; sleep 60"))
        await until(report.exists, what="the worker to start")
        pod_name = sim.pods_of(job_name(jid))[0]["metadata"]["name"]
        await executor.terminate(jid, job_name(jid))
        await until(lambda: sim.get("jobs", job_name(jid)) is None, what="the Job to go")
        assert sim.get("pods", pod_name) is None  # foreground: the pod went first
        await until(
            lambda: sim.get("secrets", secret_name(jid)) is None,
            what="the Secret to be garbage-collected",
        )
        await settled(sim, executor)
        assert jid not in recorder.lost  # a terminated job is the engine's to end


async def test_an_image_that_never_pulls_fails_the_job_after_the_grace(
    sim: SimCluster, settings: Settings
) -> None:
    settings = replace(settings, kubernetes_worker_image="registry.example/ckrv-worker:typo")
    jid = job_id(3)

    async with executing(settings) as (executor, recorder):
        started = time.monotonic()
        await executor.launch(launch_for(jid, "exit 0"))
        reason = await recorder.reason(jid)
        assert time.monotonic() - started >= settings.kubernetes_pending_grace
        assert reason.startswith("the worker's pod could not start within 1 s: ")
        assert "ErrImagePull" in reason or "ImagePullBackOff" in reason
        assert "registry.example/ckrv-worker:typo" in reason
        await until(lambda: sim.get("jobs", job_name(jid)) is None, what="the Job deleted")


async def test_a_missing_secret_key_is_a_create_container_config_error(
    sim: SimCluster, settings: Settings, tmp_path: Path
) -> None:
    template = tmp_path / "template.yaml"
    text = (
        (ROOT / "k8s" / "job-template.yaml")
        .read_text()
        .replace(
            '          args: ["ckrv", "worker"]\n',
            '          args: ["ckrv", "worker"]\n          env:\n            - name: EXTRA\n'
            "              valueFrom:\n                secretKeyRef: {name: absent, key: k}\n",
        )
    )
    template.write_text(text)
    settings = replace(settings, kubernetes_job_template=str(template))
    jid = job_id(4)

    async with executing(settings) as (executor, recorder):
        await executor.launch(launch_for(jid, "exit 0"))
        reason = await recorder.reason(jid)
        assert 'CreateContainerConfigError: secret "absent" not found' in reason


async def test_the_deadline_ends_the_job_as_a_timeout(
    sim: SimCluster, settings: Settings, tmp_path: Path
) -> None:
    report = tmp_path / "env.json"
    jid = job_id(5)

    async with executing(settings) as (executor, recorder):
        await executor.launch(launch_for(jid, f"env-to {report}; sleep 60", timeout=1))
        reason = await recorder.reason(jid)
        assert reason == (
            "timeout: job exceeded its timeout of 1 s and Kubernetes stopped it (DeadlineExceeded)"
        )
        assert sim.pods_of(job_name(jid)) == []  # the pod (and its process) is gone


@pytest.mark.parametrize("compact", [False, True], ids=["resume", "expired-relist"])
async def test_no_transition_is_missed_while_the_watch_is_down(
    sim: SimCluster, settings: Settings, compact: bool
) -> None:
    """The watch connection drops and cannot come back while a Job completes (and another is
    deleted); with history intact it resumes from its resourceVersion, with history compacted
    it gets 410 and re-lists. Either way both jobs are reported exactly once."""
    done, deleted = job_id(6), job_id(7)

    async with executing(settings) as (executor, recorder):
        await executor.launch(launch_for(done, "sleep 1.0"))
        await executor.launch(launch_for(deleted, "sleep 60"))
        await until(lambda: sim.open_watches() == 2, what="both watches open")
        sim.refuse_watches(True)
        assert sim.drop_watches() == 2
        await until(
            lambda: (sim.get("jobs", job_name(done)) or {}).get("status", {}).get("succeeded"),
            what="the Job to complete while unwatched",
        )
        sim.delete("jobs", job_name(deleted), "Background")
        if compact:
            sim.compact()
        await settled(sim, executor)
        assert recorder.lost == {}
        sim.refuse_watches(False)
        assert await recorder.reason(done) == "the worker exited without reporting a result"
        # resumed, the watch sees the deletion; re-listed, the Job is simply gone
        assert ("vanished" if compact else "was deleted") in await recorder.reason(deleted)
        await settled(sim, executor)
        assert len(recorder.lost[done]) == len(recorder.lost[deleted]) == 1
        jobs_watch = executor.watches[0]
        assert jobs_watch.lists == (2 if compact else 1)


async def test_an_expired_watch_relists_and_keeps_tracking(
    sim: SimCluster, settings: Settings
) -> None:
    jid = job_id(8)

    async with executing(settings) as (executor, recorder):
        await executor.launch(launch_for(jid, "sleep 1.5; exit 0"))
        await until(lambda: sim.open_watches() == 2, what="both watches open")
        assert sim.expire_watches() == 2  # ERROR 410 mid-stream, history compacted
        await until(lambda: executor.watches[0].lists == 2, what="a re-list")
        assert await recorder.reason(jid) == "the worker exited without reporting a result"


async def test_an_oom_killed_worker_fails_with_the_reason_and_its_last_output(
    sim: SimCluster, settings: Settings
) -> None:
    jid = job_id(9)

    async with executing(settings) as (executor, recorder):
        await executor.launch(
            launch_for(jid, "print cloning repo; print running agent; alloc 400; sleep 30")
        )
        reason = await recorder.reason(jid)
        assert reason.startswith(
            "the Kubernetes Job failed (BackoffLimitExceeded): the job ran out of memory "
            "(OOMKilled at the pod's 256Mi limit, exit code 137; raise `memory` for the agent "
            "or the job, or `[kubernetes] memory`)"
        )
        assert reason.endswith("its last output:\ncloning repo\nrunning agent")

    assert recorder.logs[jid] == ["cloning repo", "running agent"]


async def test_a_jobs_memory_limit_sizes_its_pod_and_names_the_limit_when_exceeded(
    sim: SimCluster, settings: Settings
) -> None:
    """The same `memory` setting or job option as on the local executor: the pod gets it plus
    the worker's headroom, whatever `[kubernetes] memory` says."""
    jid = job_id(10)
    launch = dataclasses.replace(
        launch_for(jid, "alloc 400; sleep 30"), limits={"memory": 64 * 2**20}
    )
    settings = dataclasses.replace(settings, kubernetes_memory="")
    async with executing(settings) as (executor, recorder):
        await executor.launch(launch)
        reason = await recorder.reason(jid)
    assert "OOMKilled at the pod's 320 MiB limit" in reason
    (pod,) = sim.objects("pods")
    (container,) = pod["spec"]["containers"]
    assert container["resources"]["limits"]["memory"] == str(320 * 2**20)


async def test_an_evicted_pod_fails_the_job_and_keeps_its_log_tail(
    sim: SimCluster, settings: Settings
) -> None:
    jid = job_id(10)

    async with executing(settings) as (executor, recorder):
        await executor.launch(launch_for(jid, "print working hard; sleep 60"))
        pod = await until(
            lambda: [
                p for p in sim.pods_of(job_name(jid)) if p["status"].get("phase") == "Running"
            ],
            what="running",
        )
        name = pod[0]["metadata"]["name"]
        await until(lambda: "working hard" in sim.pod_log(name), what="the worker's output")
        assert sim.evict_pod(name)
        reason = await recorder.reason(jid)
        assert "the pod was evicted: The node was low on resource: memory" in reason
        assert reason.endswith("working hard")

    assert recorder.logs[jid] == ["working hard"]


async def test_a_deleted_pod_fails_the_job(sim: SimCluster, settings: Settings) -> None:
    jid = job_id(11)

    async with executing(settings) as (executor, recorder):
        await executor.launch(launch_for(jid, "print started; sleep 60"))
        pod = await until(
            lambda: [
                p for p in sim.pods_of(job_name(jid)) if p["status"].get("phase") == "Running"
            ],
            what="running",
        )
        sim.delete_pod(pod[0]["metadata"]["name"])
        reason = await recorder.reason(jid)
        assert reason.startswith(
            "the Kubernetes Job failed (BackoffLimitExceeded): its pod was "
            "deleted before the worker reported a result"
        )


async def test_reconcile_adopts_running_jobs_reports_ended_and_vanished_ones_and_drops_orphans(
    sim: SimCluster, settings: Settings
) -> None:
    running, crashed, vanished = job_id(12), job_id(13), job_id(14)

    async with executing(settings, start=False) as (executor, recorder):  # a first server
        await executor.launch(launch_for(running, "print adopted; sleep 2.5"))
        await executor.launch(launch_for(crashed, "print about to crash; exit 3"))
        await executor.launch(launch_for(vanished, "sleep 60"))

    # the server "dies" with three jobs in flight
    from kubernetes import client, config  # a human tidying up behind the server's back

    api = client.ApiClient(
        config.new_client_from_config(settings.kubernetes_kubeconfig).configuration
    )
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    batch.delete_namespaced_job(job_name(vanished), "ckrv-jobs", propagation_policy="Background")
    core.create_namespaced_secret(
        "ckrv-jobs",
        {
            "metadata": {
                "name": "ckrv-job-orphan-env",
                "labels": {"app.kubernetes.io/managed-by": "ckrv", "ckrv.dev/job-id": "orphan"},
            }
        },
    )
    api.close()
    wait_for(
        lambda: (sim.get("jobs", job_name(crashed)) or {}).get("status", {}).get("failed"),
        timeout=20,
        what="the crashed job to fail",
    )

    async with executing(settings, start=False) as (executor, recorder):  # after a restart
        await executor.start(recorder.on_lost)
        gone = await executor.reconcile(
            [RunningJob(j, job_name(j)) for j in (running, crashed, vanished)]
        )
        assert set(gone) == {crashed, vanished}
        assert gone[crashed].startswith(
            "the Kubernetes Job failed (BackoffLimitExceeded): the "
            "worker exited with code 3 without reporting a result"
        )
        assert gone[crashed].endswith("about to crash")
        assert gone[vanished] == (
            f"the Kubernetes Job {job_name(vanished)} was gone when the server restarted"
        )
        assert sim.get("secrets", "ckrv-job-orphan-env") is None
        assert sim.get("secrets", secret_name(running)) is not None
        # the adopted job is tracked to its end
        assert await recorder.reason(running) == "the worker exited without reporting a result"
        assert set(recorder.lost) == {running}

    assert recorder.logs == {crashed: ["about to crash"]}


async def test_launch_is_idempotent_and_replaces_a_stale_attempt(
    sim: SimCluster, settings: Settings
) -> None:
    jid = job_id(15)

    async with executing(settings) as (executor, _):
        first = launch_for(jid, "sleep 60")
        await executor.launch(first)
        uid = sim.get("jobs", job_name(jid))["metadata"]["uid"]  # type: ignore[index]
        await executor.launch(first)  # the same launch again: adopted
        assert sim.get("jobs", job_name(jid))["metadata"]["uid"] == uid  # type: ignore[index]
        stale = replace(first, env={**first.env, "CKRV_JOB_TOKEN": "another-attempt-token"})
        await executor.launch(stale)  # a new attempt: the old Job is replaced
        job = sim.get("jobs", job_name(jid))
        assert job is not None and job["metadata"]["uid"] != uid
        secret = sim.get("secrets", secret_name(jid))
        assert secret is not None
        assert secret["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
        launch = json.loads(base64.b64decode(secret["data"]["launch.json"]))
        token = launch["CKRV_JOB_TOKEN"]
        assert token == "another-attempt-token"
        await executor.terminate(jid, None)


async def test_a_secret_that_cannot_be_created_takes_its_job_with_it(
    sim: SimCluster, settings: Settings
) -> None:
    jid = job_id(16)

    async with executing(settings) as (executor, recorder):
        huge = launch_for(jid, "exit 0", CKRV_AGENT_SECRETS="x" * (1024 * 1024 + 1))
        with pytest.raises(KubeError, match="Too long"):
            await executor.launch(huge)
        await until(lambda: sim.get("jobs", job_name(jid)) is None, what="the Job deleted")
        await settled(sim, executor)  # absence cannot be polled: wait until all is told
        assert jid not in recorder.lost


async def test_reconcile_waits_out_an_api_server_that_is_briefly_down(
    sim: SimCluster, settings: Settings
) -> None:
    running = job_id(17)

    async with executing(settings, start=False) as (executor, _):  # a first server
        await executor.launch(launch_for(running, "sleep 60"))

    async with executing(settings, start=False) as (executor, _):  # after a restart
        sim.unavailable(True)
        loop = asyncio.get_running_loop()
        loop.call_later(1.5, sim.unavailable, False)
        started = time.monotonic()
        gone = await executor.reconcile([RunningJob(running, job_name(running))])
        assert time.monotonic() - started >= 1.0  # it waited for the API server
        assert gone == {}  # and then adopted the running job
        await executor.terminate(running, None)
