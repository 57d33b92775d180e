"""The sandbox around every command a job runs (setup, the agent, verify, and all they start),
built with bubblewrap (`bwrap`, Debian/Ubuntu/Fedora package `bubblewrap`).

What a sandboxed command gets:
- its own PID namespace: no process of the machine is visible (not the worker, not other
  jobs); when the command ends, the namespace's init ends and the kernel kills everything left
  in it, so nothing a command starts outlives it. `--die-with-parent` ends it with the worker.
- its own mount view, built from nothing: system directories (/usr, /etc, /opt and the /bin,
  /lib links) and the Python the worker runs from (interpreter, ckrv and the PYTHONPATH
  entries) plus the directories on PATH (and a version manager's root for its shims), all
  read-only; the job's own workspace read-write;
  a private /proc, /dev and /tmp. The data dir (keys, database, other workspaces) and the
  server's home are never mounted, and hidden under an empty tmpfs if a bound directory
  contains them.
- its own user, IPC, UTS and cgroup namespaces, no capabilities, no new privileges (bwrap sets
  PR_SET_NO_NEW_PRIVS), no further user namespaces (`--disable-userns`), a new session (no
  TIOCSTI into a terminal).
- when the worker runs as root, the command runs as the unprivileged `nobody` (65534): root
  without capabilities still owns every root file it can see, and the kernel never applies
  the process limit to uid 0. The job's checkout, home and tmp are handed to that user for
  the commands and taken back before git reads them (`enter` and `leave`).
- the network is shared (`open`), or a network namespace of its own (`none`); the egress
  policy plugs in here (`network`, `proxy_socket`).

Why bubblewrap rather than Landlock and seccomp alone: Landlock restricts file access but gives
no PID namespace (the agent would still see, signal and read /proc of every process of the same
user: the attack this closes) and no way to end everything a command started; seccomp filters
system calls, not paths. bubblewrap is packaged and maintained by the distributions (Flatpak's
sandbox), needs no root (unprivileged user namespaces), and costs one extra fork, a few
mounts and (as root) one exec of setpriv per command: about 6.5 ms per launch against 0.9 ms
for `true` alone, and +50 ms per job of three launches end to end, measured on a loaded
2-core VM (bench/bench_sandbox.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ckrv.limits import Limits

INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora/RHEL: "
    "dnf install bubblewrap; Arch: pacman -S bubblewrap)"
)
NOBODY = 65534
NETWORK_MODES = ("open", "none", "allowlist")
_SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "opt")
_COMMON = ("--die-with-parent", "--new-session", "--cap-drop", "ALL")
# An unprivileged worker: every namespace, its user namespace included, and no nested ones.
_AS_USER = ("--unshare-all", "--unshare-user", "--disable-userns", *_COMMON)
# A root worker: no user namespace (root in one still owns every root file), keep only the
# capability to become `nobody`, which `setpriv` uses and the kernel then clears.
_AS_ROOT = (
    "--unshare-ipc",
    "--unshare-pid",
    "--unshare-uts",
    "--unshare-cgroup-try",
    *_COMMON,
    "--cap-add",
    "CAP_SETUID",
    "--cap-add",
    "CAP_SETGID",
)


def run_as_for(euid: int) -> tuple[int, int] | None:
    """The user commands run as: `nobody` for a root worker, the worker's own user otherwise."""
    return (NOBODY, NOBODY) if euid == 0 else None


def probe(bwrap: str | None = None) -> str:
    """Why this machine cannot run a sandboxed command ("" when it can), trying exactly the
    namespaces and user a job's commands get."""
    path = bwrap or shutil.which("bwrap")
    if path is None:
        return f"bwrap is not installed: {INSTALL_HINT}"
    trial = Sandbox(workspace=Path(tempfile.gettempdir()), bwrap=path)
    argv = trial.command(["true"], cwd=Path("/"))
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            timeout=20,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap ({path}) could not be run: {exc}"
    if result.returncode != 0:
        detail = (
            result.stderr.decode("utf-8", "replace").strip() or f"exit code {result.returncode}"
        )
        return (
            f"bwrap ({path}) cannot create a sandbox here: {detail}. It needs unprivileged "
            "user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
            "user.max_user_namespaces > 0; on Ubuntu 24.04+ an AppArmor profile for bwrap)"
        )
    return ""


def _python_paths() -> list[Path]:
    """What the interpreter and ckrv need to run inside: the prefixes and sys.path entries."""
    found = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent]
    found += [Path(entry) for entry in sys.path if entry]
    found.append(Path(__file__).resolve().parent.parent)  # the ckrv package (editable installs)
    found += _path_dirs()
    # A symlink (/bin -> usr/bin) is bound as what it points to: bwrap binds resolved paths.
    return [path.resolve() for path in found if path.is_absolute() and path.exists()]


# Version managers whose shims exec their own root's libexec (and read ROOT/version): their
# root is program files. Another `X/shims` is bound alone (`~/.config/shims` must not show
# ~/.config, where tokens live).
_SHIMMING_MANAGERS = (".pyenv", ".rbenv", ".nodenv", ".goenv", ".jenv", ".plenv", ".phpenv")


def _path_dirs() -> list[Path]:
    """The directories on PATH; for a version manager's shims directory (pyenv, rbenv, nodenv:
    `ROOT/shims/python3` execs `ROOT/libexec/...` and reads `ROOT/version`), its ROOT too, or
    a shimmed `python3` in a verify command fails inside with "No such file or directory"."""
    found: list[Path] = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry:
            continue
        path = Path(entry)
        found.append(path)
        if path.name == "shims" and path.parent.name in _SHIMMING_MANAGERS:
            found.append(path.parent)
    return found


def _spellings(paths: Iterable[Path]) -> list[Path]:
    """Each path as given and as it resolves: a home or data dir reached through a symlink
    (/home -> /var/home) is hidden under both names, as what is bound is resolved."""
    found: list[Path] = []
    for path in paths:
        for spelling in (path.absolute(), path.resolve()):
            if spelling != Path("/") and spelling not in found:
                found.append(spelling)
    return found


def _under(path: Path, parents: Iterable[Path]) -> bool:
    """`path` (absolute) is one of `parents` or inside one. Compared part by part: walking
    `path.parents` made building one command's mounts cost milliseconds."""
    parts = path.parts
    return any(parts[: len(parent.parts)] == parent.parts for parent in parents)


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """The paths not inside another one of them, shortest first (binds in that order)."""
    ordered = sorted(set(paths), key=lambda p: (len(p.parts), str(p)))
    kept: list[Path] = []
    for path in ordered:
        if not _under(path, kept):
            kept.append(path)
    return kept


@dataclass(frozen=True)
class Sandbox:
    """One job's sandbox: `command` wraps an argv, `environment` adjusts its variables."""

    workspace: Path
    hidden: tuple[Path, ...] = ()  # the data dir, the server's home
    limits: Limits = field(default_factory=Limits)
    network: str = "open"  # open | none | allowlist (allowlist: proxy_socket bound inside)
    proxy_socket: Path | None = None
    programs: tuple[Path, ...] = ()  # files the configured commands name (an agent's script)
    bwrap: str = "bwrap"
    run_as: tuple[int, int] | None = field(default_factory=lambda: run_as_for(os.geteuid()))

    @property
    def home(self) -> Path:
        return self.workspace / "home"

    @property
    def tmp(self) -> Path:
        return self.workspace / "tmp"

    def command(self, argv: list[str], cwd: Path) -> list[str]:
        return [
            self.bwrap,
            *(_AS_USER if self.run_as is None else _AS_ROOT),
            *self._network_args(),
            *self._mount_args(),
            "--chdir",
            str(cwd),
            "--",
            *self._become_user(),
            *self.limits.prlimit_argv(),
            *argv,
        ]

    def _become_user(self) -> list[str]:
        if self.run_as is None:
            return []
        uid, gid = self.run_as
        return [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        return {**env, "HOME": str(self.home), "TMPDIR": str(self.tmp)}

    def _network_args(self) -> list[str]:
        """`open` shares the machine's network; `none` and `allowlist` get a namespace with
        loopback only (allowlist: plus the proxy's socket, bound in `_mount_args`)."""
        if self.network == "open":
            return ["--share-net"] if self.run_as is None else []
        return [] if self.run_as is None else ["--unshare-net"]

    def _mount_args(self) -> list[str]:
        args: list[str] = []
        system = []
        for name in _SYSTEM_DIRS:
            path = Path("/", name)
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                system.append(path)
        hidden = _spellings(self.hidden)
        programs = [p.resolve() for p in self.programs if p.is_absolute() and p.exists()]
        extra = [
            p
            for p in [*_python_paths(), *programs]
            if not _under(p, system) and not any(p in h.parents for h in hidden)
        ]  # a directory holding the data dir (`python -m` puts the cwd on sys.path) is left out
        visible = [p for p in _outermost([*system, *extra]) if not _under(p, hidden)]
        args += ["--proc", "/proc", "--dev", "/dev"]
        if self.limits.disk:  # /tmp is memory: it counts against the disk limit too
            args += ["--size", str(self.limits.disk)]
        args += ["--tmpfs", "/tmp"]  # first: what is bound below /tmp goes on top of it
        made: set[Path] = {Path("/tmp")}
        for path in visible:
            args += [*_searchable_parents(path, made), "--ro-bind", str(path), str(path)]
        for path in hidden:  # an empty tmpfs: shows nothing but what is bound below it
            args += [*_searchable_parents(path, made), "--perms", "0755", "--tmpfs", str(path)]
            made.add(path)
        data_dir = _spellings(self.hidden[:1])  # nothing under it but the job's workspace
        shown = (p for p in extra if _under(p, hidden) and p not in hidden)  # never all of one
        for path in _outermost(p for p in shown if not _under(p, data_dir)):
            args += [*_searchable_parents(path, made), "--ro-bind", str(path), str(path)]
        workspace = self.workspace.absolute()
        args += [*_searchable_parents(workspace, made), "--bind", str(workspace), str(workspace)]
        if self.network == "allowlist" and self.proxy_socket is not None:
            socket = str(self.proxy_socket)  # after /tmp's tmpfs, where it usually lies
            args += [*_searchable_parents(self.proxy_socket, made), "--bind", socket, socket]
        return args

    def enter(self, writable: Iterable[Path]) -> None:
        """Before the commands: home and tmp exist, and the sandbox's user owns what they may
        write (the checkout, home, tmp)."""
        for path in (self.home, self.tmp):
            path.mkdir(mode=0o700, exist_ok=True)
        self.workspace.chmod(0o755)  # searchable, not writable: what is in it stays the worker's
        if self.run_as is not None:
            for path in (self.home, self.tmp, *writable):
                _chown_tree(path, *self.run_as)

    def leave(self, writable: Iterable[Path]) -> None:
        """After the commands (none is left running): the worker owns the files again, so git
        does not meet a foreign owner."""
        if self.run_as is not None:
            for path in writable:
                _chown_tree(path, os.geteuid(), os.getegid())


def _searchable_parents(path: Path, made: set[Path]) -> list[str]:
    """Create the directories leading to a mount point as 0755 (bwrap makes missing ones
    0700, which would keep `nobody` from what is bound below them)."""
    args: list[str] = []
    for step in reversed(path.parents):
        if step != Path("/") and step not in made:
            made.add(step)
            args += ["--perms", "0755", "--dir", str(step)]
    return args


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    """lchown everything under root (symlinks are not followed, so nothing outside changes)."""
    os.lchown(root, uid, gid)
    for parent, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            try:
                os.lchown(os.path.join(parent, name), uid, gid)
            except FileNotFoundError:
                continue


def unconfined_command(argv: list[str], limits: Limits) -> list[str]:
    """`sandbox = "none"`: the command as it is, under the same rlimits."""
    return [*limits.prlimit_argv(), *argv]
