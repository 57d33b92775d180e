"""`python -m ckrv.worker`: the worker as executors start it. The same run as `ckrv worker`, with
the same exit codes and error lines, without the CLI (click and what it imports): the worker's
start is paid on every job."""

from __future__ import annotations

import gc
import sys

from ckrv.errors import CkrvError
from ckrv.terminal_text import visible


def report(error: CkrvError) -> None:
    """`error: MESSAGE` and `hint: HINT` on stderr, as `ckrv worker` prints them."""
    # (an error can hold what a job printed)
    print(f"error: {visible(error.message)}", file=sys.stderr)
    if error.hint:
        print(f"hint: {visible(error.hint)}", file=sys.stderr)


def main() -> int:
    gc.disable()  # what the worker's imports make lives as long as it does: nothing to collect
    from ckrv.worker.main import run_worker

    gc.freeze()  # and later collections need not walk it
    gc.enable()
    try:
        return run_worker()
    except CkrvError as exc:
        report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
