"""`ckrv worker` (started by the server's executor, not by people)."""

from __future__ import annotations

import sys

import click


@click.command()
def worker() -> None:
    """Run one job's worker. The server starts this with the job in its environment.

    \b
    Example (what the local executor runs):
      CKRV_API_URL=... CKRV_JOB_ID=... CKRV_JOB_TOKEN=... ckrv worker
    """
    from ckrv.worker.main import run_worker

    sys.exit(run_worker())
