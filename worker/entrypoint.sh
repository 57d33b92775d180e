#!/bin/sh
# Entrypoint of the ckrv worker image. The Job's container runs `ckrv worker` through it.
# It only prepares what a read-only root filesystem needs and then execs the command, so the
# worker is PID 1's direct replacement and receives SIGTERM from the kubelet itself.
set -eu

# HOME and the workspace are emptyDir volumes in the Job template; fall back to /tmp when a
# custom template mounts nothing there.
if ! mkdir -p "${HOME:=/home/ckrv}" 2>/dev/null || [ ! -w "$HOME" ]; then
    HOME="${TMPDIR:-/tmp}/ckrv-home"
    mkdir -p "$HOME"
fi
export HOME

# Files the worker and the agent create are private to this user.
umask 077

if [ "$#" -eq 0 ]; then
    set -- ckrv worker
fi
exec "$@"
