"""The Pod status the kubelet writes at each step: scheduled (or not), running, evicted."""

from __future__ import annotations

import os

from tests.support.k8s_sim.clock import now_iso
from tests.support.k8s_sim.objects import condition
from tests.support.k8s_sim.store import Obj


def unschedulable(pod: Obj) -> None:
    pod["status"]["conditions"] = [
        condition(
            "PodScheduled",
            "Unschedulable",
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
            "1 No preemption victims found for incoming pod.",
            status="False",
        )
    ]


def scheduled(pod: Obj) -> None:
    pod["spec"]["nodeName"] = "sim-node"
    pod["status"].update(
        phase="Pending",
        hostIP="10.0.0.10",
        startTime=now_iso(),
        conditions=[
            condition("PodScheduled"),
            condition("Initialized"),
            condition("Ready", "ContainersNotReady", status="False"),
        ],
    )


def running(pod: Obj, started: str) -> None:
    pod["status"].update(phase="Running", podIP="10.42.0.10")
    pod["status"]["conditions"] = [
        condition("PodScheduled"),
        condition("Initialized"),
        condition("ContainersReady"),
        condition("Ready"),
    ]
    for item in pod["status"].get("containerStatuses", []):
        item.update(
            ready=True,
            started=True,
            containerID=f"containerd://{os.urandom(8).hex()}",
            state={"running": {"startedAt": started}},
        )


def evicted(pod: Obj, message: str) -> None:
    pod["status"].update(phase="Failed", reason="Evicted", message=message)
    pod["status"]["conditions"] = [
        *pod["status"].get("conditions", []),
        condition("DisruptionTarget", "TerminationByKubelet", message),
    ]
