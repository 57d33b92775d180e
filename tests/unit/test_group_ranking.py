"""How a group's attempts are ranked and which is picked: verified first, then the smaller
change, then the faster; nothing is picked before every attempt ended, nor a failed verify."""

from __future__ import annotations

from typing import Any

from ckrv.server.jobs.groups import public_group


def attempt(
    n: int,
    status: str = "succeeded",
    *,
    verified: bool | None = None,
    lines: int = 10,
    seconds: float = 5.0,
) -> dict[str, Any]:
    return {
        "id": f"job-{n}",
        "attempt": n,
        "agent": "scripted",
        "status": status,
        "verified": verified,
        "diff_stats": {"files_changed": 1, "insertions": lines, "deletions": 0},
        "duration_seconds": seconds,
        "spec_title": "Fix it",
        "git_repo_url": "https://git.example.com/a.git",
        "git_base_branch": "main",
        "created_at": "2026-01-01T00:00:00Z",
    }


def ranked(*members: dict[str, Any]) -> tuple[list[int], int | None]:
    group = public_group("g-22222222", list(members))
    return group["ranking"], group["pick"]


def test_verified_beats_a_smaller_change_and_a_failed_verify_ranks_below_none() -> None:
    assert ranked(
        attempt(1, verified=False, lines=1),
        attempt(2, verified=None, lines=2),
        attempt(3, verified=True, lines=300),
    ) == ([3, 2, 1], 3)


def test_then_the_smaller_change_then_the_faster() -> None:
    assert ranked(
        attempt(1, verified=True, lines=40, seconds=1),
        attempt(2, verified=True, lines=4, seconds=9),
        attempt(3, verified=True, lines=4, seconds=3),
    ) == ([3, 2, 1], 3)


def test_an_empty_change_ranks_after_a_change_and_failures_last() -> None:
    assert ranked(
        attempt(1, "failed"),
        attempt(2, lines=0),
        attempt(3, lines=50),
        attempt(4, "cancelled"),
    ) == ([3, 2, 1, 4], 3)


def test_no_pick_while_an_attempt_runs_or_when_none_passed() -> None:
    assert ranked(attempt(1, verified=True), attempt(2, "running")) == ([1, 2], None)
    assert ranked(attempt(1, verified=False), attempt(2, "failed")) == ([1, 2], None)
