"""SECURITY 24: the OpenAPI document, fuzzed with schemathesis against a real `ckrv serve` on
loopback. Every operation, with schema-valid and schema-invalid requests, must answer without a
5xx, with a documented status code, content type and headers, and a body matching the document.
Path parameters are drawn from the user's real resources as well as generated ones (jobs that
succeeded, failed, wait, or are held by a worker; a credential), so the fuzzer gets past 404."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.openapi.checks import JsonSchemaError

from ckrv.server.apidocs.openapi import document
from tests.support.helpers import Server, add_user_direct, device_login, make_repo
from tests.support.jobhelpers import hold_for_a_worker, submit, wait_status
from tests.support.servers import write_config

pytestmark = pytest.mark.slow

# Per operation and run (24 operations; about 15 s in all on an idle 2-core machine).
# CKRV_FUZZ_EXAMPLES raises it for a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("CKRV_FUZZ_EXAMPLES", "50"))

# By their documented names (`schemathesis run --checks`).
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "allow_header_conformance",
]

# Real resources stand in the generated cases as placeholders (they exist only once the server
# runs; pytest collects the cases before that); URL-safe, as path parameters arrive quoted.
PLACEHOLDERS = {
    "job_id": ["real-succeeded", "real-failed", "real-waiting", "real-held"],
    "name": ["real-credential"],
    "group_id": ["real-group"],
    "run": ["0", "1"],  # a verify run: taken as it is
}
# Cancelling the held job would leave the worker routes nothing but 409s to answer.
HELD_BACK = {"/jobs/{job_id}/cancel": {"real-held"}}
PLACEHOLDER_URL = "http://fuzz.invalid/v1"


@dataclass
class Target:
    """The server under fuzzing, the fuzzing user's access token (from the device flow) and
    what the user owns, by placeholder."""

    server: Server
    token: str
    resources: dict[str, str]
    worker_token: str  # of the stand-in worker holding the job "real-held"

    def resolve(self, case: Any) -> None:
        for name, value in list(case.path_parameters.items()):
            if isinstance(value, str) and value in self.resources:
                case.path_parameters[name] = self.resources[value]

    def headers_for(self, case: Any) -> dict[str, str]:
        """Worker routes get the held job's worker token (another job's id in the path is then
        a 404); every other route the user's token."""
        token = self.worker_token if case.path.startswith("/worker/") else self.token
        return {"Authorization": f"Bearer {token}"}


def _finished_jobs(api: httpx.Client, repo: Path) -> dict[str, str]:
    greet = "# Greet\nwrite hello.txt Hello\\n\nprint done\n"
    ids = {
        "real-succeeded": submit(api, greet, repo)["id"],
        "real-failed": submit(api, "print about to fail\nexit 3\n", repo)["id"],
    }
    statuses = {name: wait_status(api, job_id)["status"] for name, job_id in ids.items()}
    assert statuses == {"real-succeeded": "succeeded", "real-failed": "failed"}
    return ids


def _waiting_jobs_and_more(api: httpx.Client, repo: Path) -> dict[str, str]:
    made = {
        "real-waiting": submit(api, "print waiting\n", repo)["id"],
        "real-held": submit(api, "print held\n", repo)["id"],
        "untouched-waiting": submit(api, "print not fuzzed\n", repo)["id"],  # not a placeholder
        "real-credential": "github-work",
        "real-group": api.post(
            "/groups", json={"spec_content": "print grouped\n", "git_repo_url": repo.as_uri()}
        ).json()["id"],
    }
    credential = {
        "name": "github-work",
        "provider": "github",
        "credential_type": "pat",
        "value": "ghp_fuzz0123456789abcdef",
    }
    assert api.post("/credentials", json=credential).status_code == 201
    assert api.put("/secrets/FUZZ_KEY", json={"value": "fuzz-secret-value"}).status_code == 201
    return made


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("fuzz")
    repo = make_repo(root / "repo")
    config = write_config(root)
    (root / "config").mkdir()
    srv = Server(data_dir=root / "data", config_dir=root / "config", config=config).start()
    try:
        add_user_direct(srv.data_dir, "fuzz@example.com", tier="enterprise")
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            token = device_login(http, srv.data_dir, "fuzz@example.com")["access_token"]
        with srv.client(token) as api:
            resources = _finished_jobs(api, repo)
        # From here on nothing is dispatched: fuzzed jobs wait, and no generated repository
        # URL is ever cloned.
        write_config(root, capacity=0)
        srv.restart()
        with srv.client(token) as api:
            served = api.get("/openapi.json").json()["paths"]
            stale = [
                p
                for p in served.keys() | schema.raw_schema["paths"].keys()
                if served.get(p) != schema.raw_schema["paths"].get(p)
            ]
            assert not stale, f"the server serves another document for {stale}"
            resources |= _waiting_jobs_and_more(api, repo)
        worker_token = hold_for_a_worker(srv, resources["real-held"])
        with srv.client(worker_token) as worker:  # or every worker case would be a mere 401
            assert worker.get(f"/worker/jobs/{resources['real-held']}").status_code == 200
        yield Target(srv, token, resources, worker_token)
    finally:
        srv.shutdown()


# Built in-process at import, because pytest collects one test per operation from it; the
# fixture checks that the server serves this very document.
schema = schemathesis.openapi.from_dict(document(PLACEHOLDER_URL))
# The test sends the token itself (the user's, or a worker's on worker routes), so generated or
# removed Authorization headers would only be overwritten: missing and bad tokens are the
# two-user matrix's job (tests/api/test_two_user_isolation.py). Unknown query parameters are ignored,
# as is usual, not refused.
schema.config.generation.update(
    max_examples=MAX_EXAMPLES, with_security_parameters=False, allow_extra_parameters=False
)
schema.config.checks.update(included_check_names=CHECKS)
schema.config.update(request_timeout=30)
# A followed log ends only with its job: read its first event (the job's status), then hang up.
schema.config.max_stream_events = 1


@schema.hook
def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
    """Three times in four one of the user's real resources, else a generated value. (Without
    the bias few cases get past the 404: Hypothesis does not repeat an input, and a route
    whose only input is the id has just a few real ones.)"""
    path = context.operation.path
    real = {
        p.name: st.sampled_from(
            [v for v in PLACEHOLDERS[p.name] if v not in HELD_BACK.get(path, ())]
        )
        for p in context.operation.path_parameters
        if p.name in PLACEHOLDERS
    }
    if not real or path.startswith("/secrets/"):  # any name will do for a secret
        return strategy
    return st.integers(0, 3).flatmap(lambda i: strategy if i == 0 else st.fixed_dictionaries(real))


@schema.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """The log stream's events are not checked against the document here: the document (like
    the contract in cloud-api.yaml) describes a text/event-stream body as one string, as
    OpenAPI 3.1 does, while schemathesis reads an event stream's 3.1 `schema` as describing each
    event (3.2 names that `itemSchema`, which 3.1 does not allow). The stream's events are
    checked against the documented schemas by test_the_log_stream_carries_documented_events."""
    streamed = response.headers.get("content-type", [""])[0].startswith("text/event-stream")
    return not (streamed and isinstance(failure, JsonSchemaError))


@schema.parametrize()
def test_every_operation_answers_as_documented(case: Any, target: Target) -> None:
    target.resolve(case)
    case.call_and_validate(base_url=target.server.api_url, headers=target.headers_for(case))


# --- the log stream, which the fuzzer cannot check event by event ---


def sse_events(response: httpx.Response, limit: int | None = None) -> list[dict[str, str]]:
    """The events of an SSE response as {field: value} (comments skipped), up to `limit`."""
    events: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
            continue
        if fields:
            events.append(fields)
            fields = {}
            if limit is not None and len(events) == limit:
                break
    return events


def conforms(name: str, data: str) -> None:
    """`data` is JSON matching the document's component schema `name`."""
    root = {**schema.raw_schema, "$ref": f"#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(root).validate(json.loads(data))


@pytest.mark.parametrize("which", ["real-succeeded", "real-failed"])
def test_the_log_stream_carries_documented_events(target: Target, which: str) -> None:
    job_id = target.resources[which]
    with (
        target.server.client(target.token) as api,
        api.stream("GET", f"/jobs/{job_id}/logs", params={"follow": "true"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    assert events[-1] == {"data": "[DONE]"}
    kinds = [e.get("event") for e in events[:-1]]
    assert kinds[-1] == "status" and set(kinds[:-1]) == {"log"}  # an ended job's status: last
    for event in events[:-1]:
        conforms("Job" if event["event"] == "status" else "LogEntry", event["data"])
        if event["event"] == "log":
            assert event["id"] == str(json.loads(event["data"])["seq"])
    assert json.loads(events[-2]["data"])["status"] == which.removeprefix("real-")


def test_a_waiting_jobs_stream_opens_with_its_status(target: Target) -> None:
    job_id = target.resources["untouched-waiting"]
    with (
        target.server.client(target.token) as api,
        api.stream("GET", f"/jobs/{job_id}/logs", params={"follow": "true"}) as response,
    ):
        assert response.status_code == 200
        (first,) = sse_events(response, limit=1)
    assert first["event"] == "status"
    conforms("Job", first["data"])
    assert json.loads(first["data"])["status"] == "pending"
