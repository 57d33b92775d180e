"""The user's local git repository, as the job commands see it: where it is, its `origin`, its
current branch, what of it the remote does not have, and writing commits into it without
touching its working tree or index (a temporary index file does the work)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ckrv.errors import GitError, UsageError

_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "ckrv",
    "GIT_AUTHOR_EMAIL": "ckrv@localhost",
    "GIT_COMMITTER_NAME": "ckrv",
    "GIT_COMMITTER_EMAIL": "ckrv@localhost",
}


def git(
    root: Path,
    *args: str,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run git in `root`; a failure (with `check`) raises GitError carrying git's message."""
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=root,
            input=input,
            capture_output=True,
            env={**os.environ, **(env or {})},
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed (it is needed to work with your repository)") from exc
    if check and result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"git {args[0]} failed: {detail or f'exit code {result.returncode}'}")
    return result


def text(root: Path, *args: str) -> str:
    return git(root, *args).stdout.decode("utf-8", "replace").strip()


def find_root(cwd: Path | None = None, *, hint: str | None = None) -> Path:
    """The top of the git working tree containing `cwd`."""
    root = root_or_none(cwd)
    if root is None:
        raise UsageError(
            f"{cwd or Path.cwd()} is not inside a git repository",
            hint=hint or "run this from your repository's checkout",
        )
    return root


def root_or_none(cwd: Path | None = None) -> Path | None:
    result = git(cwd or Path.cwd(), "rev-parse", "--show-toplevel", check=False)
    return Path(result.stdout.decode().strip()) if result.returncode == 0 else None


def origin_url(root: Path) -> str | None:
    result = git(root, "remote", "get-url", "origin", check=False)
    if result.returncode != 0:
        return None
    return result.stdout.decode().strip() or None


def current_branch(root: Path) -> str | None:
    """The checked-out branch, or None on a detached HEAD."""
    result = git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if result.returncode != 0:
        return None
    return result.stdout.decode().strip() or None


def has_commit(root: Path, commit: str) -> bool:
    return git(root, "cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode == 0


def branch_exists(root: Path, name: str) -> bool:
    ref = f"refs/heads/{name}"
    return git(root, "show-ref", "--verify", "--quiet", ref, check=False).returncode == 0


@dataclass(frozen=True)
class Divergence:
    """What the local branch has that `origin` (as of the last fetch) does not."""

    uncommitted: bool
    ahead: int | None  # None: origin has no such branch

    def warning(self, branch: str) -> str | None:
        problems = []
        if self.ahead is None:
            problems.append(f"branch {branch} is not on origin (as of your last fetch)")
        elif self.ahead:
            plural = "s" if self.ahead != 1 else ""
            problems.append(f"{self.ahead} local commit{plural} on {branch} not pushed to origin")
        if self.uncommitted:
            problems.append("uncommitted changes in your working tree")
        if not problems:
            return None
        return "; ".join(problems) + ". The worker only sees what is pushed."


def divergence(root: Path, branch: str) -> Divergence:
    uncommitted = bool(git(root, "status", "--porcelain", "--untracked-files=no").stdout.strip())
    remote_ref = f"refs/remotes/origin/{branch}"
    if git(root, "rev-parse", "--verify", "--quiet", remote_ref, check=False).returncode != 0:
        return Divergence(uncommitted, None)
    ahead = int(text(root, "rev-list", "--count", f"{remote_ref}..refs/heads/{branch}") or 0)
    return Divergence(uncommitted, ahead)


@dataclass(frozen=True)
class CloudTarget:
    repo_url: str
    base_branch: str | None  # None: the server's default
    warning: str | None


def cloud_target(repo_url: str | None, base_branch: str | None) -> CloudTarget:
    """What a cloud run runs on. Without --repo: this checkout's origin; without
    --base-branch: the current branch when the repository is this checkout's, else the
    server's default. Warns when the local branch has what origin (last fetched) does not."""
    if repo_url is None:
        root: Path | None = find_root(hint="run this from your checkout, or pass --repo URL")
    else:
        root = root_or_none()
    origin = origin_url(root) if root else None
    if repo_url is None:
        if origin is None:
            raise UsageError("this repository has no `origin` remote", hint="pass --repo URL")
        repo_url = origin
    if root is None or origin is None or not same_repository(origin, repo_url):
        return CloudTarget(repo_url, base_branch, None)
    if base_branch is None:
        base_branch = current_branch(root)
        if base_branch is None:
            raise UsageError("HEAD is detached here", hint="pass --base-branch BRANCH")
    warning = None
    if branch_exists(root, base_branch):
        warning = divergence(root, base_branch).warning(base_branch)
    return CloudTarget(repo_url, base_branch, warning)


def same_repository(a: str, b: str) -> bool:
    """Whether two repository URLs (or paths) name the same repository, loosely."""

    def norm(url: str) -> str:
        url = url.strip().rstrip("/")
        url = url.removesuffix(".git").removeprefix("file://")
        if "://" in url:
            url = url.split("://", 1)[1].rpartition("@")[2]
        elif "@" in url.split(":", 1)[0]:  # git@host:path
            url = url.split("@", 1)[1].replace(":", "/", 1)
        return url.lower()

    return norm(a) == norm(b)


def fetch_commit(root: Path, url: str, commit: str, branch: str) -> None:
    """Make `commit` present in the repository at `root`, fetching it from `url`: by id first,
    then (for servers that refuse fetching by id) the branch it was taken from."""
    if has_commit(root, commit):
        return
    git(root, "fetch", "--quiet", "--no-tags", "--", url, commit, check=False)
    if not has_commit(root, commit):
        git(root, "fetch", "--quiet", "--no-tags", "--", url, f"refs/heads/{branch}")
    if not has_commit(root, commit):
        raise GitError(
            f"the job's base commit {commit[:12]} is not in {url} any more "
            f"(was {branch} force-pushed?)"
        )


def fetch_branch_commit(root: Path, url: str, commit: str, branch: str) -> str | None:
    """Make `commit`, pushed to `branch` of `url`, present at `root`. None when it is here;
    else why not: "" when the remote has no such commit (no such branch, or one that moved
    on without it), else the reason the fetch failed (unreachable, authentication, ...)."""
    if has_commit(root, commit):
        return None
    git(root, "fetch", "--quiet", "--no-tags", "--", url, commit, check=False)
    if has_commit(root, commit):
        return None
    ref = f"refs/heads/{branch}"
    listed = git(root, "ls-remote", "--exit-code", "--", url, ref, check=False)
    if listed.returncode == 2:  # reached the remote: it has no such branch
        return ""
    fetched = listed
    if listed.returncode == 0:
        fetched = git(root, "fetch", "--quiet", "--no-tags", "--", url, ref, check=False)
        if fetched.returncode == 0:
            return None if has_commit(root, commit) else ""
    return _git_reason(fetched.stderr)


def _git_reason(stderr: bytes) -> str:
    """The line of git's complaint that says what went wrong (its first `fatal:` line)."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    fatal = [line.removeprefix("fatal: ") for line in lines if line.startswith("fatal: ")]
    shown = fatal or [line for line in lines if line]
    return shown[0] if shown else "git failed without saying why"


def identity_env(root: Path) -> dict[str, str]:
    """A commit identity: the user's own when git knows one, else ckrv's."""
    if git(root, "var", "GIT_AUTHOR_IDENT", check=False).returncode == 0:
        return {}
    return dict(_FALLBACK_IDENTITY)


def commit_patch(
    root: Path, base: str, patch: bytes, message: str, *, three_way: bool = False
) -> str:
    """A commit whose parent is `base` and whose tree is `base` with `patch` applied, written
    with a temporary index so the working tree and the user's index stay untouched."""
    with tempfile.TemporaryDirectory(prefix="ckrv-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(root, "read-tree", base, env=env)
        if patch.strip():
            args = ["apply", "--cached", "--whitespace=nowarn"] + (["--3way"] if three_way else [])
            git(root, *args, "-", input=patch, env=env)
        tree = git(root, "write-tree", env=env).stdout.decode().strip()
    env = identity_env(root)
    commit = git(root, "commit-tree", tree, "-p", base, "-F", "-", input=message.encode(), env=env)
    return commit.stdout.decode().strip()


def check_new_branch(root: Path, name: str) -> None:
    """Raise UsageError unless `name` is a valid branch name that does not exist yet."""
    if (
        name.startswith("-")
        or git(root, "check-ref-format", "--branch", name, check=False).returncode
    ):
        raise UsageError(f"{name!r} is not a valid branch name")
    if branch_exists(root, name):
        raise UsageError(f"branch {name} already exists", hint="choose another name")


def create_branch(root: Path, name: str, commit: str) -> None:
    check_new_branch(root, name)
    git(root, "branch", "--no-track", name, commit)
