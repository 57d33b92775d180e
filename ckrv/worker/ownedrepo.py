"""The worker's own git repository: after the agent, the commit, the diff and the push are made
here, never in the checkout the agent controlled.

The agent had the checkout and its `.git` to itself: hooks (pre-commit, post-commit,
reference-transaction, post-index-change...), `core.fsmonitor`, `core.hooksPath`, aliases,
`include.path`, filter and textconv drivers, alternates, a `.git` that is a symlink or a
`gitdir:` file pointing anywhere. None of it is read here. The worker's repository is a bare
copy of the clone made before any command ran, in the worker's private directory (outside the
workspace), and every git command run on it:

- reads no system, global or repository config but the worker's own (GIT_CONFIG_NOSYSTEM,
  GIT_CONFIG_GLOBAL=/dev/null, a private HOME; the repository's config is rewritten before use);
- runs no hook and no fsmonitor (core.hooksPath=/dev/null, core.fsmonitor=false) and has no
  filter, textconv or external diff driver defined (attributes in the tree may name one; with
  no driver configured nothing runs; the diff also says --no-textconv --no-ext-diff);
- takes the work tree's files (GIT_WORK_TREE) with a private index: `git add` stores symlinks
  as links and skips any `.git` entry, so the diff is exactly the change to tracked and new
  files, and nothing outside the checkout is read through them.

The commit is built with plumbing (read-tree, add, write-tree, commit-tree): no porcelain that
could run hooks."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ckrv.contracts.masking import Masker, scrub
from ckrv.errors import GitError, WorkerError

# Given on every command line: they win over any config file.
_SAFE_CONFIG = {
    "core.hooksPath": os.devnull,
    "core.fsmonitor": "false",
    "core.attributesFile": os.devnull,
    "core.excludesFile": os.devnull,
    "core.symlinks": "true",
    "core.untrackedCache": "false",
    "core.splitIndex": "false",
    "commit.gpgSign": "false",
    "credential.helper": "",
    "protocol.ext.allow": "never",
}
_CONFIG_FILE = "[core]\n\trepositoryformatversion = 0\n\tbare = true\n"
_IDENTITY = {
    "GIT_AUTHOR_NAME": "ckrv",
    "GIT_AUTHOR_EMAIL": "ckrv@localhost",
    "GIT_COMMITTER_NAME": "ckrv",
    "GIT_COMMITTER_EMAIL": "ckrv@localhost",
}


def safe_git_env(base: dict[str, str], home: Path) -> dict[str, str]:
    """`base` (the worker's git environment) without any GIT_ variable that could point git
    elsewhere, plus what makes git ignore every config but the repository's own."""
    env = {k: v for k, v in base.items() if not k.startswith("GIT_") or k in _KEPT_GIT_VARS}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_ATTR_NOSYSTEM="1",
        GIT_OPTIONAL_LOCKS="0",
        GIT_NO_REPLACE_OBJECTS="1",
        **_IDENTITY,
    )
    return env


# The protocol policy stays; the credential's variables are given per command (push).
_KEPT_GIT_VARS = ("GIT_TERMINAL_PROMPT", "GIT_ALLOW_PROTOCOL")


def _flags() -> list[str]:
    flags = []
    for key, value in _SAFE_CONFIG.items():
        flags += ["-c", f"{key}={value}"]
    return flags


@dataclass
class OwnedRepo:
    """A bare repository only the worker writes, holding the base commit."""

    path: Path
    private: Path
    base_env: dict[str, str]  # the worker's git environment (protocol policy, no prompts)
    masker: Masker
    base_tree: str = ""  # read before any command ran, kept in memory
    base_index: bytes = b""  # the clone's index, likewise (an index file could be tampered)

    @classmethod
    def copy_of(
        cls, checkout: Path, private: Path, base_env: dict[str, str], masker: Masker
    ) -> OwnedRepo:
        """Copy the fresh clone (before any command ran in it) into `private`/repo.git.
        Objects are copied, not hard-linked: the agent could write through a shared inode."""
        repo = cls(private / "repo.git", private, base_env, masker)
        (private / "home").mkdir(mode=0o700, exist_ok=True)
        repo._git(
            {},
            "clone",
            "--quiet",
            "--bare",
            "--no-hardlinks",
            "--",
            str(checkout),
            str(repo.path),
            cwd=private,
        )
        repo.base_tree = repo._git({}, "rev-parse", "HEAD^{tree}").decode().strip()
        # The clone's own index, taken before any command ran: `add` then rehashes only the
        # files whose stat data changed.
        repo.base_index = (checkout / ".git" / "index").read_bytes()
        return repo

    # --- after the agent ----------------------------------------------------------------

    def reclaim(self) -> None:
        """Undo whatever a process of the job could have done to this repository (where no
        sandbox hid it: kubernetes, `sandbox = "none"`): own config, no hooks, no info/, no
        alternates, no symlinked parts."""
        for part in ("objects", "refs", "HEAD", "config"):
            if (self.path / part).is_symlink():
                raise WorkerError(f"the worker's repository was tampered with ({part})")
        (self.path / "config").write_text(_CONFIG_FILE)
        for extra in ("hooks", "info", "commondir", "gitdir", "index", "shallow"):
            target = self.path / extra
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        for name in ("alternates", "http-alternates"):
            (self.path / "objects" / "info" / name).unlink(missing_ok=True)

    def commit_worktree(self, checkout: Path, base: str, message: str) -> str | None:
        """Commit the work tree's files on top of `base`; None when they are the base's own
        (nothing changed). The commit is not put on any ref: the push names it."""
        _check_worktree(checkout)
        index = self.private / "index"
        index.unlink(missing_ok=True)
        index.write_bytes(self.base_index)
        tree_env = {"GIT_WORK_TREE": str(checkout), "GIT_INDEX_FILE": str(index)}
        self._git(tree_env, "add", "--all", "--", ".", cwd=checkout)
        tree = self._git(tree_env, "write-tree", cwd=checkout).decode().strip()
        index.unlink(missing_ok=True)
        if tree == self.base_tree:
            return None
        return self._git({}, "commit-tree", tree, "-p", base, "-m", message).decode().strip()

    def diff(self, base: str, commit: str) -> bytes:
        return self._git({}, "diff", "--binary", *_DIFF_SAFE, base, commit)

    def diff_stats(self, base: str, commit: str) -> dict[str, int]:
        files = insertions = deletions = 0
        out = self._git({}, "diff", "--numstat", *_DIFF_SAFE, base, commit).decode()
        for line in out.splitlines():
            added, removed, _path = line.split("\t", 2)
            files += 1
            insertions += int(added) if added.isdigit() else 0
            deletions += int(removed) if removed.isdigit() else 0
        return {"files_changed": files, "insertions": insertions, "deletions": deletions}

    def bundle(self, base: str, result: str) -> bytes:
        """The commits from `base` (excluded) to `result`, as a git bundle a follow-up's
        worker unbundles on top of a clone that has `base`."""
        self._git({}, "update-ref", "refs/ckrv/result", result)
        out = self.private / "result.bundle"
        try:
            self._git({}, "bundle", "create", "--quiet", str(out), "refs/ckrv/result", f"^{base}")
            return out.read_bytes()
        finally:
            out.unlink(missing_ok=True)

    def push(
        self, env: dict[str, str], url: str, commit: str, branch: str, flags: tuple[str, ...] = ()
    ) -> None:
        """Push `commit` to `url` as `branch`; `env` carries the credential's helper, `flags`
        the host pin (hostpin.py)."""
        refspec = f"{commit}:refs/heads/{branch}"
        self._git(env, "push", "--quiet", "--no-verify", "--", url, refspec, flags=flags)

    def _git(
        self,
        extra: dict[str, str],
        *args: str,
        cwd: Path | None = None,
        flags: tuple[str, ...] = (),
    ) -> bytes:
        env = safe_git_env(self.base_env, self.private / "home")
        if args[0] != "clone":
            env["GIT_DIR"] = str(self.path)
        env.update(extra)  # the work tree and index, or the credential's helper
        try:
            result = subprocess.run(
                ["git", *_flags(), *flags, *args],
                cwd=cwd or self.private,
                env=env,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=3600,
            )
        except FileNotFoundError as exc:
            raise GitError("git is not installed on the worker") from exc
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"git {args[0]} took longer than an hour") from exc
        if result.returncode != 0:
            detail = scrub(result.stderr.decode("utf-8", "replace").strip(), self.masker)
            raise GitError(f"git {args[0]} failed: {detail or f'exit code {result.returncode}'}")
        return result.stdout


_DIFF_SAFE = ("--no-textconv", "--no-ext-diff", "--no-color")


def _check_worktree(checkout: Path) -> None:
    """The checkout must still be the directory the worker made, not a link to elsewhere
    (git would then read that place's files into the diff)."""
    if not stat.S_ISDIR(os.lstat(checkout).st_mode):
        raise WorkerError(
            "the checkout was replaced by a link to another place; no diff is taken from it"
        )
