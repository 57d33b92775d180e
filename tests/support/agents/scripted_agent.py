"""The scripted agent tests use in place of a model. It reads the spec and follows simple
instructions, one per line, so every test can say exactly what the agent should do:

    write PATH CONTENT     write CONTENT (\\n for newlines) to PATH
    append PATH CONTENT    append a line to PATH
    delete PATH            remove PATH
    print TEXT             print TEXT to stdout
    stderr TEXT            print TEXT to stderr
    lines N [RATE]         print N numbered lines (RATE per second when given)
    sleep SECONDS          sleep
    env NAME               print NAME=<value of the environment variable>
    await PATH             wait (up to a minute) until PATH exists (a test creates it)
    exit CODE              exit with CODE
    show NAME              print the file the environment variable NAME names
    onfix INSTRUCTION      do INSTRUCTION only in a fix round (CKRV_VERIFY_OUTPUT_FILE is set)
    fetch URL              print `fetched URL` when an HTTP GET of URL answers, else `unreachable URL`
    rlimit NAME            print NAME=<soft limit> for a resource (DATA, CPU, NPROC, FSIZE; -1: none)
    cost TEXT              write TEXT to the file CKRV_COST_FILE names (what the run cost)
Lines that match none of these are ignored (a spec's prose). The spec is the file its first
argument names, or its standard input when that is `-`. Started with a second argument, ROLE
(an [agents.NAME] command can give one), the agent also follows lines `@ROLE op ...`, and
skips those of other roles: one spec makes several agents behave differently (a group)."""

import os
import resource
import sys
import time
import urllib.request
from pathlib import Path


def main() -> int:
    spec = sys.stdin.read() if sys.argv[1] == "-" else Path(sys.argv[1]).read_text()
    fixing = bool(os.environ.get("CKRV_VERIFY_OUTPUT_FILE"))
    role = sys.argv[2] if len(sys.argv) > 2 else None
    for raw in spec.splitlines():
        line = raw.strip()
        if line.startswith("@"):
            tag, _, line = line.partition(" ")
            if tag[1:] != role:
                continue
        if line.startswith("onfix "):
            if not fixing:
                continue
            line = line[len("onfix ") :]
        words = line.split(" ", 2)
        op, args = words[0], words[1:]
        if op == "write" and len(args) == 2:
            Path(args[0]).parent.mkdir(parents=True, exist_ok=True)
            Path(args[0]).write_text(args[1].replace("\\n", "\n"))
        elif op == "append" and len(args) == 2:
            with open(args[0], "a") as handle:
                handle.write(args[1] + "\n")
        elif op == "delete" and args:
            Path(args[0]).unlink()
        elif op == "print":
            print(" ".join(args), flush=True)
        elif op == "stderr":
            print(" ".join(args), file=sys.stderr, flush=True)
        elif op == "lines" and args:
            count = int(args[0])
            rate = float(args[1]) if len(args) > 1 else 0.0
            start = time.monotonic()
            for i in range(count):
                if rate:
                    delay = start + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                print(f"line {i}", flush=bool(rate))
            sys.stdout.flush()
        elif op == "sleep" and args:
            time.sleep(float(args[0]))
        elif op == "env" and args:
            print(f"{args[0]}={os.environ.get(args[0], '')}", flush=True)
        elif op == "show" and args:
            print(Path(os.environ[args[0]]).read_text(), flush=True)
        elif op == "await" and args:
            deadline = time.monotonic() + 60
            while not Path(args[0]).exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        elif op == "fetch" and args:
            try:
                urllib.request.urlopen(args[0], timeout=5).read()
                print(f"fetched {args[0]}", flush=True)
            except OSError:
                print(f"unreachable {args[0]}", flush=True)
        elif op == "rlimit" and args:
            soft = resource.getrlimit(getattr(resource, f"RLIMIT_{args[0]}"))[0]
            print(f"{args[0]}={soft if soft != resource.RLIM_INFINITY else -1}", flush=True)
        elif op == "cost" and args:
            Path(os.environ["CKRV_COST_FILE"]).write_text(" ".join(args))
        elif op == "exit" and args:
            return int(args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
