"""The contracts between server, worker and client survive their trip: the launch environment
through an environment, the job description through JSON, and the status vocabularies are
the ones the API documents."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from ckrv.contracts import launch_env
from ckrv.contracts.agents import PRESETS, AgentConfig
from ckrv.contracts.credentials import GitCredential, transport_mismatch
from ckrv.contracts.job_description import AgentDescription, JobDescription
from ckrv.contracts.jobmodel import PHASES, STATUSES, TERMINAL, JobPhase, JobStatus
from ckrv.contracts.launch_env import LaunchEnvError, WorkerEnvironment
from ckrv.contracts.network import NetworkPolicy


def test_the_launch_environment_decodes_to_what_was_encoded() -> None:
    sent = WorkerEnvironment(
        "http://127.0.0.1:8420/v1",
        "job-1",
        "token-1",
        GitCredential("gh", "github", "pat", "ghp_value", "x-access-token"),
        {"API_KEY": "k"},
        workspace="/w",
        private_dir="/w.private",
    )
    env = sent.encode()
    assert set(launch_env.SECRET_NAMES) <= set(env)
    assert WorkerEnvironment.decode(env) == sent
    assert sorted(sent.secret_values()) == ["ghp_value", "k", "token-1"]


def test_a_launch_environment_without_the_job_token_names_it() -> None:
    with pytest.raises(LaunchEnvError, match=launch_env.JOB_TOKEN):
        WorkerEnvironment.decode({launch_env.API_URL: "u", launch_env.JOB_ID: "j"})
    with pytest.raises(LaunchEnvError, match="not valid JSON"):
        WorkerEnvironment.decode(
            {
                launch_env.API_URL: "u",
                launch_env.JOB_ID: "j",
                launch_env.JOB_TOKEN: "t",
                launch_env.AGENT_SECRETS: "{",
            }
        )


def test_the_job_description_survives_json() -> None:
    agent = AgentDescription.of(AgentConfig("mine", ("prog", "{spec_file}"), verify=("make",)))
    sent = JobDescription(
        id="job-1",
        spec_content="# Title\n",
        spec_title="Title",
        git_repo_url="https://example.com/r.git",
        git_base_branch="main",
        feature_branch_name="ckrv/title-job-1",
        setup=None,
        push=True,
        timeout_seconds=60.0,
        agent=agent,
        credential=None,
        max_diff_bytes=1024,
        allow_local_repositories=False,
        ssh_known_hosts="yes",
        network=NetworkPolicy("open"),
    )
    assert JobDescription.from_wire(json.loads(json.dumps(sent.to_wire()))) == sent


def test_a_preset_overridden_in_the_config_keeps_its_install_hint() -> None:
    override = AgentConfig("codex", ("codex", "--other"))
    assert AgentDescription.of(override).install_hint == PRESETS["codex"].install_hint


def test_the_status_and_phase_tuples_are_their_literals() -> None:
    assert set(STATUSES) == set(get_args(JobStatus)) and set(TERMINAL) < set(STATUSES)
    assert get_args(JobPhase) == PHASES


@pytest.mark.parametrize(
    ("kind", "url", "fits"),
    [
        ("pat", "https://github.com/me/app.git", True),
        ("pat", "git@github.com:me/app.git", False),
        ("deploy_key", "ssh://git@github.com/me/app.git", True),
        ("deploy_key", "https://github.com/me/app.git", False),
        ("deploy_key", "/srv/repos/app.git", True),
        ("password", "https://github.com/me/app.git", False),
    ],
)
def test_which_credential_type_fits_which_url(kind: str, url: str, fits: bool) -> None:
    assert (transport_mismatch(kind, url) is None) == fits
