"""The end-to-end CLI flow on a real Kubernetes cluster (scripts/e2e-k3d.sh), run when
CKRV_E2E_KUBECONFIG points at one where k8s/ is applied (scripts/k3d-up.sh sets that up).
No container engine runs where the rest of the suite does, so this is skipped there."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.helpers import ROOT

KUBECONFIG = os.environ.get("CKRV_E2E_KUBECONFIG", "")


@pytest.mark.k3d
@pytest.mark.skipif(
    not KUBECONFIG,
    reason="CKRV_E2E_KUBECONFIG is not set: no real cluster to run the k3d flow against "
    "(scripts/k3d-up.sh creates one)",
)
def test_the_cli_flow_runs_jobs_on_a_real_cluster() -> None:
    env = {**os.environ, "CKRV": f"{sys.executable} -m ckrv", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "e2e-k3d.sh")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "e2e-k3d: PASS" in result.stdout
