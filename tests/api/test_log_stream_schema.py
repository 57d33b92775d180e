"""The live log stream as the OpenAPI document describes it: each SSE event of a real job
(`log`, `status`, the closing `[DONE]`) matches the document's event schema, its data the
schema named for that event; and `/v1/v1/jobs/{id}/logs`, the path the Chakravarti CLI asks
for, streams exactly what the real path does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from tests.support.helpers import Server, make_repo
from tests.support.jobhelpers import submit, wait_status


@pytest.fixture(scope="module")
def finished(live: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """(a client of the job's owner, the id of a job that succeeded after printing lines)."""
    repo = make_repo(tmp_path_factory.mktemp("repo"), {"README.md": "# sample\n"})
    with live.client(live.add_user("sse@example.com", tier="pro")) as api:
        created = submit(api, "# Talk\nprint one\nprint two\nwrite a.txt a\n", repo)
        assert wait_status(api, created["id"])["status"] == "succeeded"
        yield api, created["id"]


def stream(live: Server, api: httpx.Client, path: str) -> str:
    """The whole SSE body of an ended job's log at `path` (under the server's root)."""
    response = httpx.get(
        f"{live.url}{path}",
        params={"follow": "true"},
        headers={"Authorization": api.headers["Authorization"]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response.text


def events(body: str) -> list[dict[str, Any]]:
    """The events as an SSE parser gives them (`message` for an event without a name)."""
    parsed = []
    for block in body.split("\n\n"):
        fields: dict[str, Any] = {}
        data: list[str] = []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
        if data:
            parsed.append({"event": "message", **fields, "data": "\n".join(data)})
    return parsed


def test_every_event_of_a_real_stream_matches_the_documented_event_schema(
    live: Server, finished: tuple[Any, str]
) -> None:
    api, job_id = finished
    document = api.get("/openapi.json").json()
    media = document["paths"]["/jobs/{job_id}/logs"]["get"]["responses"]["200"]["content"]
    # refs in the schema are to the document's components: validate inside the document
    event_schema = {**media["text/event-stream"]["schema"], "components": document["components"]}
    branches = {b["properties"]["event"]["const"]: b for b in event_schema["oneOf"]}
    seen = []
    for event in events(stream(live, api, f"/v1/jobs/{job_id}/logs")):
        jsonschema.validate(event, event_schema)
        data = branches[event["event"]]["properties"]["data"]
        if "contentSchema" in data:
            assert data["contentMediaType"] == "application/json"
            content = {**data["contentSchema"], "components": document["components"]}
            jsonschema.validate(json.loads(event["data"]), content)
        seen.append(event["event"])
    assert seen.count("log") >= 2 and seen[-2:] == ["status", "message"]

    wrong = {"event": "log", "id": "1", "data": json.dumps({"seq": "one"})}
    log_data = branches["log"]["properties"]["data"]["contentSchema"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            json.loads(wrong["data"]), {**log_data, "components": document["components"]}
        )


def test_the_doubled_v1_path_streams_the_same_log_and_is_documented_as_an_alias(
    live: Server, finished: tuple[Any, str]
) -> None:
    api, job_id = finished
    real = stream(live, api, f"/v1/jobs/{job_id}/logs")
    assert stream(live, api, f"/v1/v1/jobs/{job_id}/logs") == real
    as_json = httpx.get(
        f"{live.url}/v1/v1/jobs/{job_id}/logs",
        headers={"Authorization": api.headers["Authorization"]},
    )
    assert as_json.json() == api.get(f"/jobs/{job_id}/logs").json()
    operation = api.get("/openapi.json").json()["paths"]["/v1/jobs/{job_id}/logs"]["get"]
    assert operation["deprecated"] is True and "Chakravarti" in operation["summary"]
