"""`python -m ckrv.worker`: the worker as executors start it. The same run as `ckrv worker`, with
the same exit codes and error lines, without the CLI: the worker's start is paid once per job,
and click (with what it imports) is most of what `ckrv worker` costs before the job starts."""

from __future__ import annotations

import sys

from ckrv.errors import CkrvError
from ckrv.worker.main import run_worker

# C0 controls and DEL shown as ^X (as the CLI shows errors): an error can hold what a job printed.
_CONTROLS = {c: f"^{chr(c ^ 0x40)}" for c in [*range(0x20), 0x7F] if chr(c) not in "\n\t"}


def report(error: CkrvError) -> None:
    """`error: MESSAGE` and `hint: HINT` on stderr, as `ckrv worker` prints them."""
    print(f"error: {error.message.translate(_CONTROLS)}", file=sys.stderr)
    if error.hint:
        print(f"hint: {error.hint.translate(_CONTROLS)}", file=sys.stderr)


def main() -> int:
    try:
        return run_worker()
    except CkrvError as exc:
        report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
