"""`ckrv worker` (started by the server's executor, not by people)."""

from __future__ import annotations

import sys

import click


@click.command()
def worker() -> None:
    """Run one job's worker. The server starts this with the job's id and API URL in its
    environment and its secrets on an inherited socket (CKRV_LAUNCH_FD) or in a file it deletes
    (CKRV_LAUNCH_FILE); by hand, the secrets may be given in the environment.

    \b
    Example (by hand):
      CKRV_API_URL=... CKRV_JOB_ID=... CKRV_JOB_TOKEN=... ckrv worker
    """
    from ckrv.worker.main import run_worker

    sys.exit(run_worker())
