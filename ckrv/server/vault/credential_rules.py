"""Whether a credential can work with a repository URL, checked when a job is created: a
deploy key needs an ssh URL and a token an https one (a credential's URL is only known then)."""

from __future__ import annotations

from ckrv.errors import WorkerError
from ckrv.server.web.http import HTTPError
from ckrv.worker.gitauth import check_transport


def check_credential_fits(credential_type: str, repo_url: str) -> None:
    """Raise a 400 saying what to use instead when the credential cannot fit the URL."""
    try:
        check_transport(credential_type, repo_url)
    except WorkerError as exc:
        raise HTTPError(400, "credential_mismatch", exc.message) from exc
