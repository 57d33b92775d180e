"""The verify gate: verify commands run after the agent in the job's sandbox; with fix rounds a
failing verify sends the agent back with the failing output. Real server, real workers, the
scripted agent; `ckrv status` and `ckrv pull --require-verified` run in-process."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import user_checkout
from tests.support.helpers import Server, make_repo
from tests.support.inprocess import InProcessCli
from tests.support.jobhelpers import logs, submit, wait_status

# A user in a checkout of `origin`: the shared fixtures (tests/support/user_checkout.py).
api, checkout, ckrv = user_checkout.api, user_checkout.checkout, user_checkout.ckrv

BROKEN_THEN_FIXED = (
    "# Make it pass\n"
    "write state.txt broken\\n\n"
    "onfix show CKRV_VERIFY_OUTPUT_FILE\n"
    "onfix write state.txt fixed\\n\n"
)
CHECK = "echo checking state.txt; grep -q fixed state.txt"


@pytest.fixture(scope="module")
def token(live: Server) -> str:
    return live.add_user("verifier@example.com", tier="enterprise")


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "remote", {"README.md": "# sample\n"})


def test_a_failing_verify_passes_after_one_fix_round(
    live: Server, api: httpx.Client, origin: Path, ckrv: InProcessCli
) -> None:
    created = submit(api, BROKEN_THEN_FIXED, origin, verify=[CHECK], fix_rounds=2)
    job = wait_status(api, created["id"])
    assert job["status"] == "succeeded", job["error_message"]
    assert (job["verified"], job["rounds"], job["fix_rounds"]) == (True, 1, 2)
    assert "verify passed after 1 fix round" in job["result_summary"]
    assert len(job["verify_transcripts"]) == 2
    first = api.get(f"/jobs/{job['id']}/artifacts/verify/0").text
    second = api.get(f"/jobs/{job['id']}/artifacts/verify/1").text
    assert f"$ {CHECK}\nchecking state.txt\n[exit code 1]" in first
    assert second.endswith("[exit code 0]\n")
    # the agent of the fix round was shown the failing run's transcript
    assert "[exit code 1]" in logs(live.data_dir, job["id"])
    assert "+fixed" in api.get(f"/jobs/{job['id']}/artifacts/diff").text

    shown = ckrv.run("status", job["id"][:8])
    assert "verified after 1 fix round" in shown.stdout, shown.stdout
    transcript = ckrv.run("status", job["id"][:8], "--transcript", "0")
    assert transcript.returncode == 0 and "[exit code 1]" in transcript.stdout
    assert ckrv.run("pull", job["id"][:8], "--require-verified").returncode == 0


def test_require_verified_refuses_a_result_that_failed_verify(
    api: httpx.Client, ckrv: InProcessCli, origin: Path, checkout: Path
) -> None:
    spec = "# Never fixed\nwrite state.txt broken\\n\n"
    job = wait_status(api, submit(api, spec, origin, verify=[CHECK])["id"])
    assert job["status"] == "succeeded", job["error_message"]
    assert job["verified"] is False and job["rounds"] == 0

    refused = ckrv.run("pull", job["id"][:8], "--require-verified")
    assert refused.returncode == 8
    assert "is unverified: its verify failed; nothing was pulled" in refused.stderr
    assert f"ckrv status {job['id'][:8]} --transcript 0" in refused.stderr
    assert not (checkout / "state.txt").exists()
    assert "unverified (verify failed)" in ckrv.run("status", job["id"][:8]).stdout


def test_without_a_verify_command_the_result_is_not_verified(
    api: httpx.Client, ckrv: InProcessCli, origin: Path
) -> None:
    job = wait_status(api, submit(api, "write a.txt A\\n\n", origin)["id"])
    assert job["verified"] is None and job["verify_transcripts"] == []
    assert "not verified (no verify command ran)" in ckrv.run("status", job["id"][:8]).stdout
    refused = ckrv.run("pull", job["id"][:8], "--require-verified")
    assert refused.returncode == 8 and "no verify command ran" in refused.stderr


def test_fix_rounds_over_the_servers_bound_are_refused(api: httpx.Client, origin: Path) -> None:
    response = api.post(
        "/jobs",
        json={
            "spec_content": "x",
            "git_repo_url": origin.as_uri(),
            "verify": ["true"],
            "fix_rounds": 4,
        },
    )
    assert response.status_code == 400
    assert "over this server's max_fix_rounds (3)" in response.json()["message"]
