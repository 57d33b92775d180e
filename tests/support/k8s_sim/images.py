"""The node's image store. An image here is what a container runtime needs from one: its
ENTRYPOINT, CMD and ENV, plus which host programs stand in for the binaries it ships (the worker
image's `ckrv` is this interpreter's `python -m ckrv`). A reference nobody registered does not
pull, exactly like a typo'd tag on a real registry."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REFERENCE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)


@dataclass(frozen=True)
class Image:
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    binaries: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """argv[0] -> host argv prefix; an empty tuple is a wrapper that just execs its arguments
    (like the worker image's entrypoint script)."""

    def argv(self, command: list[str] | None, args: list[str] | None) -> list[str]:
        """Docker's rule: `command` replaces ENTRYPOINT, `args` replaces CMD, and a `command`
        without `args` drops CMD."""
        argv = [
            *(command or self.entrypoint),
            *(args if args is not None else ([] if command else self.cmd)),
        ]
        for _ in range(8):
            if not argv or argv[0] not in self.binaries:
                break
            replacement = self.binaries[argv[0]]
            if replacement:
                return [*replacement, *argv[1:]]
            argv = argv[1:]
        return argv


def worker_image(extra_env: dict[str, str] | None = None) -> Image:
    """The simulated `ckrv-worker` image: worker/Dockerfile's entrypoint and CMD, with `ckrv`
    being this checkout run by this interpreter."""
    root = Path(__file__).resolve().parents[3]
    return Image(
        entrypoint=("/usr/local/bin/ckrv-entrypoint",),
        cmd=("ckrv", "worker"),
        env={"PYTHONPATH": str(root), "PYTHONUNBUFFERED": "1", **(extra_env or {})},
        binaries={"/usr/local/bin/ckrv-entrypoint": (), "ckrv": (sys.executable, "-m", "ckrv")},
    )


def fake_worker_image() -> Image:
    """An image whose `ckrv` is tests/support/k8s_sim/fake_worker.py: for executor tests that need a
    worker doing something precise (sleep, exit 3, use memory) and no server."""
    script = Path(__file__).with_name("fake_worker.py")
    return Image(
        entrypoint=("/usr/local/bin/ckrv-entrypoint",),
        cmd=("ckrv", "worker"),
        env={"PYTHONUNBUFFERED": "1"},
        binaries={"/usr/local/bin/ckrv-entrypoint": (), "ckrv": (sys.executable, str(script))},
    )


class ImageRegistry:
    def __init__(self) -> None:
        self.images: dict[str, Image] = {}

    def push(self, ref: str, image: Image) -> None:
        self.images[ref] = image

    def valid_name(self, ref: str) -> bool:
        return bool(REFERENCE.match(ref))

    def pull(self, ref: str) -> Image | None:
        return self.images.get(ref)
