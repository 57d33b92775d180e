"""Whether a credential can work with a repository URL, checked when a job is created: a
deploy key needs an ssh URL and a token an https one (a credential's URL is only known then)."""

from __future__ import annotations

from ckrv.contracts.credentials import transport_mismatch
from ckrv.errors import CredentialMismatch


def check_credential_fits(credential_type: str, repo_url: str) -> None:
    """Raise CredentialMismatch (a 400) saying what to use instead when the credential cannot
    fit the URL."""
    mismatch = transport_mismatch(credential_type, repo_url)
    if mismatch is not None:
        raise CredentialMismatch(mismatch)
