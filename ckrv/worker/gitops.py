"""Git for the worker before any command runs: clone the base branch and branch. (The commit,
the diff and the push come from the worker's own repository: ownedrepo.py.) Git runs with a
restricted environment (no prompts, only allowed protocols) and its error text is scrubbed of
URL userinfo and known secrets before it goes anywhere."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from ckrv.contracts.masking import Masker, scrub
from ckrv.errors import GitError


@dataclass
class Git:
    env: dict[str, str]
    masker: Masker
    flags: tuple[str, ...] = ()  # `-c` options for every command (the host pin: hostpin.py)

    def run(self, *args: str, cwd: Path, check: bool = True) -> str:
        return self.run_bytes(*args, cwd=cwd, check=check).decode("utf-8", "replace").strip()

    def run_bytes(self, *args: str, cwd: Path, check: bool = True) -> bytes:
        try:
            result = subprocess.run(
                ["git", *self.flags, *args],
                cwd=cwd,
                env=self.env,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=3600,
            )
        except FileNotFoundError as exc:
            raise GitError("git is not installed on the worker") from exc
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"git {args[0]} took longer than an hour") from exc
        if check and result.returncode != 0:
            detail = scrub(result.stderr.decode("utf-8", "replace").strip(), self.masker)
            raise GitError(f"git {args[0]} failed: {detail or f'exit code {result.returncode}'}")
        return result.stdout

    def clone(self, url: str, branch: str, dest: Path) -> None:
        try:
            self.run(
                "clone",
                "--quiet",
                "--no-tags",
                "--single-branch",
                "--branch",
                branch,
                "--",
                url,
                str(dest),
                cwd=dest.parent,
            )
        except GitError as exc:
            if "Remote branch" in exc.message and "not found" in exc.message:
                raise GitError(
                    f"the base branch {branch!r} does not exist in the repository"
                ) from exc
            raise
