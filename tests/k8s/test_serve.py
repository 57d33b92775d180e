"""`ckrv serve --executor kubernetes` end to end against the simulated cluster: a real server
subprocess, its executor talking to the simulated API through a kubeconfig, every job's pod
running the real `ckrv worker` (the simulated kubelet starts it from the Job's container
command with the environment from the job's Secret), real git repositories and the scripted
agent."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.githttp import GitHttpServer
from tests.support.helpers import PYTHON, ROOT, Server, base_env, make_repo, wait_for
from tests.support.jobhelpers import logs, processes_with, submit, wait_phase, wait_status
from tests.support.k8s_sim import WORKER_IMAGE, Image, SimCluster, policy_from_manifests
from tests.support.servers import write_config

TOKEN = "ghp_K8SSENTINEL0123456789abcdefGHIJ"
SECRET = "sk-K8SSENTINEL-agent-secret-0123456789"
HOG = ROOT / "tests" / "support" / "k8s_sim" / "fake_worker.py"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimCluster]:
    policy = policy_from_manifests(ROOT / "k8s" / "rbac.yaml", "ckrv-job-runner", "ckrv-server")
    cluster = SimCluster(tmp_path / "node", policy=policy).start()
    yield cluster
    cluster.stop()


def kubernetes_config(sim: SimCluster, tmp_path: Path) -> str:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    return f"""
[agents.hog]
command = ["{sys.executable}", "{HOG}"]
env = ["FAKE_WORKER_SCRIPT"]

[kubernetes]
kubeconfig = "{kubeconfig}"
worker_image = "{WORKER_IMAGE}"
memory = "300Mi"
pending_grace = "2s"
"""


@pytest.fixture
def server(sim: SimCluster, tmp_path: Path, config_dir: Path) -> Iterator[Server]:
    config = write_config(tmp_path, kubernetes_config(sim, tmp_path))
    srv = Server(
        data_dir=tmp_path / "data",
        config_dir=config_dir,
        config=config,
        extra_args=["--executor", "kubernetes"],
        env_extra={"FAKE_WORKER_SCRIPT": "print hogging; alloc 600; sleep 30"},
    )
    srv.start()
    yield srv
    srv.shutdown()


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    with server.client(server.add_user("ada@example.com", tier="pro")) as client:
        yield client


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"README.md": "# sample\n", "app.py": "print('hello')\n"})


def job_objects(sim: SimCluster, job_id: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    job = sim.get("jobs", f"ckrv-job-{job_id}")
    secret = sim.get("secrets", f"ckrv-job-{job_id}-env")
    assert job is not None and secret is not None
    return job, secret


def test_a_private_job_runs_as_a_kubernetes_job_with_its_credentials_only_in_the_secret(
    tmp_path: Path, sim: SimCluster, server: Server, api: httpx.Client
) -> None:
    make_repo(tmp_path / "git", {"README.md": "# private\n"})
    with GitHttpServer(tmp_path / "git", username="x-access-token", password=TOKEN) as git_srv:
        credential = {"name": "gh", "provider": "github", "credential_type": "pat", "value": TOKEN}
        assert api.post("/credentials", json=credential).status_code == 201
        assert api.put("/secrets/MY_SECRET", json={"value": SECRET}).status_code == 201
        spec = "# Greet from the cluster\nenv MY_SECRET\nwrite hello.txt Hello from k8s\\n\n"
        created = submit(api, spec, git_srv.url("origin.git"), git_credential_name="gh")
        done = wait_status(api, created["id"], timeout=90)
        assert done["status"] == "succeeded", (done["error_message"], done)
        assert any(a.authorized for a in git_srv.attempts)
    diff = api.get(f"/jobs/{created['id']}/artifacts/diff").text
    assert "+Hello from k8s" in diff
    assert "MY_SECRET=***" in logs(server.data_dir, created["id"])

    job, secret = job_objects(sim, created["id"])
    assert job["metadata"]["labels"]["ckrv.dev/job-id"] == created["id"]
    assert job["spec"]["template"]["metadata"]["labels"]["ckrv.dev/network"] == "open"
    assert any(c["type"] == "Complete" for c in job["status"]["conditions"])
    text = json.dumps(job)
    for value in (TOKEN, SECRET, base64.b64encode(TOKEN.encode()).decode()):
        assert value not in text
    env = json.loads(base64.b64decode(secret["data"]["launch.json"]))
    assert json.loads(env["CKRV_GIT_CREDENTIAL"])["value"] == TOKEN
    assert json.loads(env["CKRV_AGENT_SECRETS"]) == {"MY_SECRET": SECRET}
    assert env["CKRV_API_URL"] == server.api_url
    assert secret["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    # the worker read the launch file the init container copied, and deleted it before any
    # command ran: nothing of it is left in the pod's volumes (which may be gone already)
    left = [
        Path(d) / n
        for d, _, names in os.walk(tmp_path / "node")
        for n in names
        if n == "launch.json"
    ]
    assert all(p.parent.name == "ckrv-launch-secret" for p in left), left


def test_cancel_deletes_the_job_its_pod_and_secret(
    sim: SimCluster, api: httpx.Client, repo: Path
) -> None:
    created = submit(api, "print waiting\nsleep 60\n", repo)
    wait_phase(api, created["id"], "executing", timeout=60)
    assert api.post(f"/jobs/{created['id']}/cancel").status_code == 200
    assert wait_status(api, created["id"])["status"] == "cancelled"
    wait_for(lambda: sim.get("jobs", f"ckrv-job-{created['id']}") is None, what="Job deleted")
    wait_for(
        lambda: sim.get("secrets", f"ckrv-job-{created['id']}-env") is None, what="Secret collected"
    )
    assert sim.pods_of(f"ckrv-job-{created['id']}") == []
    wait_for(lambda: not processes_with(created["id"]), what="no worker process left")


def test_a_worker_past_its_memory_limit_fails_the_job_saying_so(
    api: httpx.Client, repo: Path
) -> None:
    created = submit(api, "# Use too much memory\n", repo, agent="hog")
    done = wait_status(api, created["id"], timeout=90)
    assert done["status"] == "failed"
    assert "OOMKilled at the pod's 300Mi limit" in done["error_message"], done


def test_a_jobs_own_memory_limit_sizes_its_pod_under_the_kubernetes_cap(
    sim: SimCluster, api: httpx.Client, repo: Path
) -> None:
    """The job option lowers the pod as it lowers the local executor's rlimit: 32 MiB for the
    job plus the worker's 256 MiB, under the 300Mi `[kubernetes] memory` cap."""
    created = submit(api, "# Small\nprint small\n", repo, limits={"memory": "32M"})
    wait_status(api, created["id"], timeout=90)
    job, _ = job_objects(sim, created["id"])
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["memory"] == str(288 * 2**20)


def test_jobs_in_flight_survive_a_server_kill_and_a_pod_lost_meanwhile_is_reported(
    sim: SimCluster, server: Server, api: httpx.Client, repo: Path
) -> None:
    survivor = submit(
        api, "# Survive\nprint before\nsleep 4\nwrite after.txt still here\\n\n", repo
    )
    victim = submit(api, "# Evicted\nprint started\nsleep 60\n", repo)
    for created in (survivor, victim):
        wait_phase(api, created["id"], "executing", timeout=60)
    server.kill()
    pod = sim.pods_of(f"ckrv-job-{victim['id']}")[0]["metadata"]["name"]
    assert sim.evict_pod(pod)
    wait_for(
        lambda: (sim.get("jobs", f"ckrv-job-{victim['id']}") or {}).get("status", {}).get("failed"),
        what="the victim's Job to fail",
    )
    server.start(port=server.port)
    with server.client(api.headers["Authorization"].split(" ", 1)[1]) as again:
        done = wait_status(again, survivor["id"], timeout=90)
        assert done["status"] == "succeeded", done
        assert "+still here" in again.get(f"/jobs/{survivor['id']}/artifacts/diff").text
        lost = wait_status(again, victim["id"], timeout=30)
    assert lost["status"] == "failed"
    assert "the pod was evicted: The node was low on resource: memory" in lost["error_message"]


def test_a_worker_that_crashes_leaves_its_pod_log_tail_in_the_job_log(
    tmp_path: Path, sim: SimCluster, config_dir: Path, repo: Path
) -> None:
    crashing = "ckrv-worker:crashing"
    sim.push_image(crashing, Image(binaries={"ckrv": (sys.executable, "-c", CRASH)}))
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    extra = kubernetes_config(sim, tmp_path).replace(WORKER_IMAGE, crashing)
    config = write_config(tmp_path, extra.replace(f'kubeconfig = "{kubeconfig}"\n', ""))
    args = ["--executor", "kubernetes", "--kubeconfig", str(kubeconfig)]  # the flag this time
    srv = Server(
        data_dir=tmp_path / "data", config_dir=config_dir, config=config, extra_args=args
    ).start()
    try:
        with srv.client(srv.add_user("ada@example.com")) as client:
            created = submit(client, "print never runs\n", repo)
            done = wait_status(client, created["id"], timeout=60)
        assert done["status"] == "failed"
        assert "the worker exited with code 1 without reporting a result" in done["error_message"]
        assert done["error_message"].endswith("RuntimeError: cannot reach the agent registry")
        entries = archived_logs(srv.data_dir, created["id"])
        assert ("kubernetes", "worker booting") in entries
        assert ("kubernetes", "RuntimeError: cannot reach the agent registry") in entries
    finally:
        srv.shutdown()


CRASH = "print('worker booting', flush=True); raise RuntimeError('cannot reach the agent registry')"


def archived_logs(data_dir: Path, job_id: str) -> list[tuple[str, str]]:
    """(source, message) of every stored line, from the archive once the job ended."""
    archive = data_dir / "artifacts" / job_id / "log.jsonl"
    wait_for(archive.exists, what="the job's log archive")
    lines = [json.loads(line) for line in archive.read_text().splitlines() if line]
    return [(entry["source"], entry["message"]) for entry in lines]


def test_serve_refuses_to_start_without_a_usable_cluster_config(tmp_path: Path) -> None:
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nkind: Config\n")
    env = base_env(tmp_path / "cfg")
    for extra in ([], ["--kubeconfig", str(bad)]):
        result = subprocess.run(
            [
                PYTHON,
                "-m",
                "ckrv",
                "serve",
                "--data-dir",
                str(tmp_path / "data"),
                "--port",
                "0",
                "--executor",
                "kubernetes",
                *extra,
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert "kubernetes: cannot load the cluster configuration" in result.stderr
        assert "--kubeconfig" in result.stderr  # the hint says how to fix it
