"""RBAC for the simulated API: the rules of the Role the server's service account is bound to
(read from k8s/rbac.yaml), so a request the manifests do not allow is refused with the real
403 message and the tests catch a Role that drifted from what the executor does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.k8s_sim.store import ApiError


@dataclass(frozen=True)
class Rule:
    groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]

    def allows(self, group: str, resource: str, verb: str) -> bool:
        return (
            ("*" in self.groups or group in self.groups)
            and ("*" in self.resources or resource in self.resources)
            and ("*" in self.verbs or verb in self.verbs)
        )


@dataclass(frozen=True)
class Policy:
    user: str
    namespace: str
    rules: tuple[Rule, ...]

    def check(self, namespace: str, group: str, resource: str, verb: str) -> None:
        if namespace == self.namespace and any(r.allows(group, resource, verb) for r in self.rules):
            return
        base = resource.partition("/")[0]
        qualified = f"{base}.{group}" if group else base
        raise ApiError(
            403,
            "Forbidden",
            f'{qualified} is forbidden: User "{self.user}" cannot '
            f'{verb} resource "{resource}" in API group "{group}" in the namespace '
            f'"{namespace}"',
            {"kind": base, "group": group},
        )


def policy_from_manifests(path: Path, role: str, service_account: str) -> Policy:
    """The Role named `role` in the manifest file at `path`, for `namespace:service_account`."""
    import yaml

    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(path.read_text()) if d]
    found = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == role)
    binding = next(d for d in docs if d["kind"] == "RoleBinding" and d["roleRef"]["name"] == role)
    subject = next(s for s in binding["subjects"] if s["name"] == service_account)
    rules = tuple(
        Rule(
            frozenset(r.get("apiGroups", [])),
            frozenset(r.get("resources", [])),
            frozenset(r.get("verbs", [])),
        )
        for r in found.get("rules", [])
    )
    user = f"system:serviceaccount:{subject['namespace']}:{service_account}"
    return Policy(user, found["metadata"]["namespace"], rules)
