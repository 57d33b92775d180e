"""A faithful simulation of the parts of the Kubernetes API the kubernetes executor uses,
served over real HTTP for the official client. See cluster.py for the entry point."""

from tests.support.k8s_sim.cluster import FAKE_IMAGE, WORKER_IMAGE, SimCluster
from tests.support.k8s_sim.images import Image, worker_image
from tests.support.k8s_sim.rbac import policy_from_manifests

__all__ = [
    "FAKE_IMAGE",
    "WORKER_IMAGE",
    "Image",
    "SimCluster",
    "policy_from_manifests",
    "worker_image",
]
