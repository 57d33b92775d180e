"""The groups API on the in-process app (dispatch paused): a group is its attempts, each a job
of its own; it is created whole or refused whole, quota included; it is cancelled whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import add_user_direct, app_client, device_login

REPO = "https://git.example.com/me/app.git"


@pytest.fixture
def inproc(tmp_path: Path) -> Iterator[Any]:
    """In-process app, dispatch paused, one free-tier user (10 jobs a month) signed in."""
    data = tmp_path / "data"
    with app_client(data, max_concurrent_jobs=0) as client:
        add_user_direct(data, "ada@example.com", tier="free")
        token = device_login(client, data, "ada@example.com")["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def create_group(client: Any, **body: Any) -> Any:
    return client.post(
        "/v1/groups", json={"spec_content": "# Fix it\n", "git_repo_url": REPO, **body}
    )


def job_count(client: Any) -> int:
    return len(client.get("/v1/jobs", params={"limit": 100}).json()["jobs"])


def used(client: Any) -> int:
    return int(client.get("/v1/users/me").json()["jobs_used"])


def test_a_group_is_one_job_per_attempt_of_each_agent(inproc: Any) -> None:
    response = create_group(inproc, agents=["claude-code", "codex"], attempts=2)
    assert response.status_code == 201, response.text
    group = response.json()
    assert group["id"].startswith("g-") and len(group["id"]) == 10
    assert response.headers["location"] == f"/v1/groups/{group['id']}"
    attempts = group["attempts"]
    assert [(a["attempt"], a["agent"]) for a in attempts] == [
        (1, "claude-code"),
        (2, "claude-code"),
        (3, "codex"),
        (4, "codex"),
    ]
    assert len({a["job_id"] for a in attempts}) == 4
    assert group["ended"] is False and group["pick"] is None
    for attempt in attempts:  # each a normal job, which says which group it is in
        job = inproc.get(f"/v1/jobs/{attempt['job_id']}").json()
        assert (job["group"], job["attempt"], job["status"]) == (
            group["id"],
            attempt["attempt"],
            "pending",
        )
    assert used(inproc) == 4  # every attempt counts
    assert inproc.get(f"/v1/groups/{group['id']}").json()["attempts"] == attempts


def test_a_single_job_is_in_no_group(inproc: Any) -> None:
    job = inproc.post("/v1/jobs", json={"spec_content": "# x\n", "git_repo_url": REPO}).json()
    assert (job["group"], job["attempt"]) == (None, None)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"attempts": 0}, "attempts must be"),
        ({"attempts": True}, "attempts must be"),
        ({"attempts": 11}, "at most 10 attempts"),
        ({"agents": ["claude-code", "codex"], "attempts": 6}, "asks for 12"),
        ({"agents": []}, "agents must be"),
        ({"agents": "codex"}, "agents must be"),
        ({"agents": ["codex", "no-such-agent"]}, "unknown agent 'no-such-agent'"),
        ({"agents": ["codex"], "agent": "codex"}, "not both"),
        ({"attempts": 2, "git_repo_url": "http://git.example.com/a.git"}, "https"),
    ],
)
def test_a_refused_group_creates_no_job(inproc: Any, body: dict[str, Any], said: str) -> None:
    response = create_group(inproc, **body)
    assert response.status_code == 400, response.text
    assert said in response.json()["message"]
    assert job_count(inproc) == 0 and used(inproc) == 0


def test_a_group_over_the_quota_is_refused_whole_with_the_numbers(inproc: Any) -> None:
    for _ in range(8):
        assert create_group(inproc).status_code == 201  # a group of one: one job
    assert used(inproc) == 8
    refused = create_group(inproc, attempts=3)
    assert refused.status_code == 402, refused.text
    body = refused.json()
    assert body["error"] == "quota_exceeded"
    assert (body["jobs_needed"], body["jobs_left"]) == (3, 2)
    assert body["quota_resets_at"] and body["quota_resets_at"] in body["message"]
    assert "needs 3 jobs" in body["message"] and "2 of the free tier" in body["message"]
    assert job_count(inproc) == 8 and used(inproc) == 8  # nothing created, nothing spent
    assert create_group(inproc, attempts=2).status_code == 201  # what is left still fits
    assert job_count(inproc) == 10 and used(inproc) == 10


def test_cancelling_a_group_cancels_every_attempt(inproc: Any) -> None:
    group = create_group(inproc, attempts=3).json()
    cancelled = inproc.post(f"/v1/groups/{group['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert [a["status"] for a in cancelled.json()["attempts"]] == ["cancelled"] * 3
    assert cancelled.json()["ended"] is True and cancelled.json()["pick"] is None
    for attempt in group["attempts"]:
        assert inproc.get(f"/v1/jobs/{attempt['job_id']}").json()["status"] == "cancelled"
    again = inproc.post(f"/v1/groups/{group['id']}/cancel")
    assert again.status_code == 409 and "already ended" in again.json()["message"]


@pytest.mark.parametrize("group_id", ["g-22222222", "g-nope", "g-222222222", "G-22222222"])
def test_an_unknown_group_is_404(inproc: Any, group_id: str) -> None:
    for response in (
        inproc.get(f"/v1/groups/{group_id}"),
        inproc.post(f"/v1/groups/{group_id}/cancel"),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
