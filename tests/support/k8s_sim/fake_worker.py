"""A stand-in for `ckrv worker` in images the executor tests push, for tests that exercise the
executor alone (no server to report to). It follows FAKE_WORKER_SCRIPT, commands separated by
`;`:

    print TEXT      print a line            sleep SECONDS   sleep
    alloc MIB       hold MIB of memory      exit CODE       exit with CODE
    env-to PATH     write the environment as JSON to PATH (to check what the pod got)
"""

import json
import os
import sys
import time


def take_launch_file() -> None:
    """Like the real worker: the launch environment from CKRV_LAUNCH_FILE, then the file gone."""
    path = os.environ.pop("CKRV_LAUNCH_FILE", None)
    if path:
        with open(path) as handle:
            os.environ.update(json.load(handle))
        os.unlink(path)


def main() -> int:
    take_launch_file()
    held = []
    for command in os.environ.get("FAKE_WORKER_SCRIPT", "").split(";"):
        op, _, arg = command.strip().partition(" ")
        if op == "print":
            print(arg, flush=True)
        elif op == "sleep":
            time.sleep(float(arg))
        elif op == "alloc":
            held.append(bytearray(int(arg) * 1024 * 1024))
            for block in held:
                block[::4096] = b"x" * len(block[::4096])  # touch the pages so RSS grows
        elif op == "exit":
            return int(arg)
        elif op == "env-to":  # whole or not at all: a test polls for the file
            with open(arg + ".part", "w") as handle:
                json.dump({**os.environ, "__argv__": sys.argv, "__cwd__": os.getcwd()}, handle)
            os.replace(arg + ".part", arg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
