"""Whether this server can confine its jobs' commands, decided once at start.

With the local executor and `sandbox = "bwrap"` (the default), `ckrv serve` tries a sandbox.
Where the machine cannot make one (no bwrap, no user namespaces), the jobs' commands run
unconfined and any job could read every other job's files and processes, so the server runs
for one user only:

- `ckrv serve` says so at start and refuses to start when the data dir holds more than one user;
- creating a job is refused (409 `unconfined`) while more than one user exists (a user added
  later with `ckrv admin`, say), with what to install;
- the operator who accepts the risk sets `sandbox = "none"`: then jobs of every user run
  unconfined, said loudly at start and shown in `/healthz`.

The Kubernetes executor confines through its pods (see `[kubernetes]`), so none of this applies."""

from __future__ import annotations

from dataclasses import dataclass

from ckrv.sandbox import INSTALL_HINT, probe
from ckrv.settings import Settings


@dataclass(frozen=True)
class Confinement:
    mode: str  # bwrap | none | kubernetes
    problem: str = ""  # why sandbox = "bwrap" could not be had ("" when it could)

    @property
    def one_user_only(self) -> bool:
        """Unconfined without the operator having said so."""
        return self.mode == "none" and bool(self.problem)

    def details(self) -> dict[str, object]:
        """For /healthz."""
        if self.mode == "bwrap":
            return {"sandbox": "bwrap", "confined": True}
        if self.mode == "kubernetes":
            return {"sandbox": "kubernetes pods", "confined": True}
        body: dict[str, object] = {"sandbox": "none", "confined": False}
        if self.problem:
            body["problem"] = self.problem
            body["users"] = "one user only"
        else:
            body["explicit"] = 'sandbox = "none" in [server]'
        return body

    def banner(self) -> list[str]:
        """What `ckrv serve` prints at start when jobs are not confined."""
        if self.mode != "none":
            return []
        if self.problem:
            return [
                f"WARNING: jobs cannot be confined on this machine: {self.problem}",
                "WARNING: their commands run unconfined, so this server runs jobs for ONE user "
                "only. Fix: " + INSTALL_HINT + '; or accept the risk with sandbox = "none" '
                "in [server]",
            ]
        return [
            "WARNING: sandbox = \"none\": every job's commands run UNCONFINED, as this server's "
            "user: any job can read other jobs' files, processes and secrets",
        ]

    def refusal(self, users: int) -> str | None:
        """Why jobs cannot run with `users` users, or None."""
        if not self.one_user_only or users <= 1:
            return None
        return (
            f"this server cannot confine jobs ({self.problem}), so it runs jobs for one user "
            f"only and its data dir holds {users} users. Fix: {INSTALL_HINT}; or accept that "
            'every job can read every other job\'s secrets with sandbox = "none" in [server]'
        )


def decide(settings: Settings) -> Confinement:
    """Probe the machine (about 20 ms) when the setting asks for a sandbox."""
    if settings.executor != "local":
        return Confinement("kubernetes")
    if settings.sandbox == "none":
        return Confinement("none")
    problem = probe()
    return Confinement("none", problem) if problem else Confinement("bwrap")
