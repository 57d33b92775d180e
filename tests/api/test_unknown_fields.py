"""Keys a route does not know in a JSON body are refused, on a real `ckrv serve`: a misspelt
option (`"netwrok": "none"`) is a 400 naming it and the keys the route takes, never a job run
with the default. Every route with a JSON body is probed from the OpenAPI document, so what
the document says (`additionalProperties: false` and the properties) is what the route does;
the OAuth endpoints ignore unknown keys, as RFC 6749 §3.2 asks, and so do the worker routes,
where a worker of another ckrv version may send a key this server does not know
(docs/security.md item 40).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ckrv.server.apidocs.openapi import document
from tests.support.helpers import Server, add_user_direct, device_login, make_repo
from tests.support.jobhelpers import hold_for_a_worker, submit
from tests.support.servers import write_config

DOCUMENT = document("http://127.0.0.1/v1")
# Where unknown keys are ignored: the OAuth endpoints (routes/auth.py).
OAUTH = {"/auth/device", "/auth/token", "/auth/refresh", "/auth/revoke"}
# And the worker routes (routes/worker.py).
WORKER = {
    "/worker/jobs/{job_id}/events",
    "/worker/jobs/{job_id}/logs",
    "/worker/jobs/{job_id}/verify/{run}",
    "/worker/jobs/{job_id}/result",
}
OPEN = OAUTH | WORKER


@dataclass
class Target:
    server: Server
    token: str
    worker_token: str
    repo: Path
    job_id: str  # a waiting job of the user, held by a stand-in worker


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("unknown-fields")
    (root / "config").mkdir()
    server = Server(
        data_dir=root / "data", config_dir=root / "config", config=write_config(root, capacity=0)
    ).start()
    try:
        repo = make_repo(root / "repo")
        add_user_direct(server.data_dir, "typo@example.com", tier="enterprise")
        with httpx.Client(base_url=server.url, timeout=30) as http:
            token = device_login(http, server.data_dir, "typo@example.com")["access_token"]
        with server.client(token) as api:
            job_id = submit(api, "print held\n", repo)["id"]
        yield Target(server, token, hold_for_a_worker(server, job_id), repo, job_id)
    finally:
        server.shutdown()


def _schema(operation: dict[str, Any]) -> dict[str, Any]:
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return dict(schema)


JSON_BODIES = [
    (method, path, _schema(operation))
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    if "application/json" in operation.get("requestBody", {}).get("content", {})
]


def _call(target: Target, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
    url = path.format(job_id=target.job_id, run="0", name="TYPO_KEY")
    token = target.worker_token if path.startswith("/worker/") else target.token
    with target.server.client(token) as api:
        return api.request(method.upper(), url, json=body)


def test_only_the_oauth_and_worker_routes_ignore_unknown_keys(srv: Target) -> None:
    """There a standard key this server does not use (`scope`) changes nothing: the answer is
    what the same body without it gets."""
    open_routes = {path for _, path, schema in JSON_BODIES if "additionalProperties" not in schema}
    assert open_routes == OPEN
    assert len(JSON_BODIES) > len(OPEN)  # the job, group, credential, secret routes
    with httpx.Client(base_url=srv.server.api_url, timeout=30) as http:
        for path in sorted(OAUTH):
            bare = http.post(path, json={"client_id": "typo-check"})
            extra = http.post(path, json={"client_id": "typo-check", "scope": "jobs"})
            assert extra.status_code == bare.status_code, path
            assert extra.json().get("error") == bare.json().get("error") != "unknown_fields"


def test_a_worker_of_a_newer_version_is_heard_with_the_keys_this_server_knows(
    srv: Target,
) -> None:
    """Its report is taken (the phase moves on), the key this server does not know is dropped."""
    newer = {"status": "running", "phase": "cloning", "from_a_newer_worker": {"x": 1}}
    answer = _call(srv, "post", "/worker/jobs/{job_id}/events", newer)
    assert answer.status_code == 200, answer.text
    with srv.server.client(srv.token) as api:
        job = api.get(f"/jobs/{srv.job_id}").json()
    assert (job["status"], job["phase"]) == ("running", "cloning")
    assert "from_a_newer_worker" not in job


@pytest.mark.parametrize(
    ("method", "path", "schema"),
    [case for case in JSON_BODIES if case[1] not in OPEN],
    ids=[f"{m.upper()} {p}" for m, p, _ in JSON_BODIES if p not in OPEN],
)
def test_an_unknown_key_is_refused_naming_it_and_the_documented_keys(
    srv: Target, method: str, path: str, schema: dict[str, Any]
) -> None:
    assert schema["additionalProperties"] is False
    answer = _call(srv, method, path, {"netwrok": "none"})
    assert answer.status_code == 400, answer.text
    refusal = answer.json()
    assert refusal["error"] == "unknown_fields"
    assert refusal["unknown_fields"] == ["netwrok"]
    assert refusal["accepted_fields"] == sorted(schema["properties"])
    assert "'netwrok'" in refusal["message"]


def test_the_contracts_keys_are_taken_and_a_misspelt_option_runs_no_job(srv: Target) -> None:
    """The original Chakravarti CLI sends the cloud API contract's keys (JobCreate,
    CredentialCreate), null for an optional one it has no value for: all taken. A misspelt
    option of ours is refused, and no job runs with the default in its place."""
    job = {
        "spec_content": "print contract\n",
        "git_repo_url": srv.repo.as_uri(),
        "git_base_branch": "main",
        "git_credential_name": None,
    }
    credential = {
        "name": "contract-keys",
        "provider": "github",
        "credential_type": "pat",
        "value": "ghp_contract0123456789",
    }
    with srv.server.client(srv.token) as api:
        assert api.post("/jobs", json=job).status_code == 201
        assert api.post("/credentials", json=credential).status_code == 201
        before = len(api.get("/jobs").json()["jobs"])
        refused = api.post("/jobs", json={**job, "netwrok": "none"})
        assert refused.status_code == 400
        assert "did you mean 'network'?" in refused.json()["message"]
        assert len(api.get("/jobs").json()["jobs"]) == before
        assert api.post("/jobs", json={**job, "network": "none"}).status_code == 201
