"""Keeping what the worker holds away from the commands it runs. Setup, the agent and verify
run as the worker's own user, and the agent is code nobody reviewed, so:

- `protect_self` makes the worker non-dumpable (prctl PR_SET_DUMPABLE): its /proc/PID/environ,
  its memory (the job token, the git credential: contracts/secret_channel.py) and its open files
  are then closed to processes of the same user that lack CAP_SYS_PTRACE. It also makes the
  worker a child subreaper, so whatever a command leaves running, even through setsid and a
  double fork, stays a descendant of the worker instead of escaping to init.
- `end_leftovers` kills every process still under the worker once the last command is done:
  nothing the agent started is left to watch the push (when the credential is in use again)
  or to outlive the job. `exit_on_sigterm` lets a cancel or a timeout (the executor's SIGTERM
  to the process group, which a setsid daemon has left) unwind through it too.

`protect_self` needs Linux (prctl): elsewhere it does nothing and the worker says so in the
job's log. `end_leftovers` finds processes through /proc and ends none where there is none."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

from ckrv.worker.process import children, kill_tree

_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36


def protect_self() -> bool:
    """Non-dumpable and a child subreaper; False where the system does not offer both."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    dumpable_off = libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return bool(dumpable_off and subreaper)


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit, so the pipeline's cleanup (end_leftovers) runs."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def end_leftovers() -> int:
    """Kill every process under the worker and reap them all; returns how many were its
    children. Call only while the worker itself runs no command (this reaps any child)."""
    ended = 0
    for _round in range(100):  # a killed parent's children come to the worker: go again
        leftovers = children(os.getpid())
        if not leftovers:
            break
        for pid in leftovers:
            kill_tree(pid)
        for pid in leftovers:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        ended += len(leftovers)
    return ended
