"""The demo's sample project: a bare `origin.git` with one commit, a checkout of it, and the spec
the example agent carries out (add a function and its test)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ckrv.errors import CkrvError, GitError

SAMPLE_FILES = {
    "README.md": "# hello\n\nA tiny sample project for `ckrv demo`.\n",
    "hello.py": '''"""A tiny sample program."""


def main() -> None:
    print("Hello, world!")


if __name__ == "__main__":
    main()
''',
}

SPEC = '''# Add a greet() function with a test

Add `greet(name)` to hello.py: it returns "Hello, NAME!" and falls back to "world" for an empty
name. Use it in `main()`, and add a unit test for both cases.

(The example agent only writes the files spelled out below; a real agent works from the prose.)

```python file=hello.py
"""A tiny sample program."""


def greet(name: str) -> str:
    """A friendly greeting; an empty name greets the world."""
    return f"Hello, {name or 'world'}!"


def main() -> None:
    print(greet("world"))


if __name__ == "__main__":
    main()
```

```python file=test_hello.py
import unittest

from hello import greet


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self) -> None:
        self.assertEqual(greet("Ada"), "Hello, Ada!")

    def test_empty_name_greets_the_world(self) -> None:
        self.assertEqual(greet(""), "Hello, world!")
```
'''

# git needs an identity to commit; the user may not have configured one
_IDENTITY = {
    "GIT_AUTHOR_NAME": "ckrv demo",
    "GIT_AUTHOR_EMAIL": "demo@example.com",
    "GIT_COMMITTER_NAME": "ckrv demo",
    "GIT_COMMITTER_EMAIL": "demo@example.com",
}


def git(cwd: Path, *args: str) -> str:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **_IDENTITY},
        )
    except FileNotFoundError as exc:
        raise CkrvError("git is not installed; ckrv needs it (e.g. apt install git)") from exc
    if result.returncode != 0:
        raise GitError(f"git {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def make_sample(root: Path) -> tuple[Path, Path]:
    """Create root/origin.git (bare, branch main) and root/sample (a checkout of it)."""
    seed = root / "seed"
    seed.mkdir()
    git(seed, "init", "--quiet", "--initial-branch=main")
    for name, content in SAMPLE_FILES.items():
        (seed / name).write_text(content, encoding="utf-8")
    git(seed, "add", "--all")
    git(seed, "commit", "--quiet", "-m", "A tiny sample program")
    origin, checkout = root / "origin.git", root / "sample"
    git(root, "clone", "--quiet", "--bare", str(seed), str(origin))
    git(root, "clone", "--quiet", str(origin), str(checkout))
    shutil.rmtree(seed)
    return origin, checkout
