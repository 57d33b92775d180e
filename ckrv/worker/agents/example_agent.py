"""ckrv's example agent: a scripted stand-in, not an AI model. `ckrv demo` uses it so a whole job
can run on any machine, offline and without an API key.

It writes the files the spec spells out in fenced blocks whose info string names a path, then
runs the unit tests it wrote (stdlib `unittest`, so nothing needs installing):

    ```python file=hello.py
    def greet(name): ...
    ```

Prose is ignored. A real agent (claude-code, codex, gemini, aider, or any command you configure
as `[agents.NAME]` on the server) reads the prose instead.

    python -m ckrv.worker.agents.example_agent [--pace SECONDS] SPEC_FILE
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import unittest
from dataclasses import dataclass
from pathlib import Path

BANNER = (
    "ckrv example agent: a scripted stand-in for a coding agent, NOT an AI model.",
    "It only writes the files the spec spells out in ```LANG file=PATH blocks and runs their tests.",
    "For real work, configure a real agent on the server (presets claude-code, codex, gemini, aider,",
    "or any command as [agents.NAME] in its config file) and store its API key with",
    "`ckrv cloud secrets set ANTHROPIC_API_KEY`; see the README, section Agents.",
)

_FENCE = re.compile(r"^(`{3,}|~{3,})\s*(.*)$")
_FILE_ATTR = re.compile(r"(?:^|\s)file=(\S+)")


@dataclass(frozen=True)
class FileBlock:
    path: str
    content: str


def spec_title(spec: str) -> str:
    for line in spec.splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip()
    return "untitled spec"


def file_blocks(spec: str) -> list[FileBlock]:
    """Every fenced block whose info string has `file=PATH`, in order."""
    blocks: list[FileBlock] = []
    lines = spec.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index].strip())
        index += 1
        if opening is None:
            continue
        fence, info = opening.groups()
        body: list[str] = []
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index])
            index += 1
        index += 1  # the closing fence
        wanted = _FILE_ATTR.search(info)
        if wanted:
            blocks.append(FileBlock(wanted.group(1), "\n".join(body) + "\n"))
    return blocks


def safe_path(root: Path, relative: str) -> Path:
    """`relative` inside `root`; a path that leaves the checkout is refused."""
    target = (root / relative).resolve()
    if Path(relative).is_absolute() or not target.is_relative_to(root.resolve()):
        raise ValueError(f"refusing to write {relative!r}: it is outside the repository")
    return target


def run_tests(paths: list[Path], root: Path) -> bool:
    """Run the unittest modules among `paths`, reporting on stdout (stderr reads as warnings)."""
    sys.dont_write_bytecode = True  # no __pycache__ in the checkout, so none in the diff
    sys.path.insert(0, str(root))
    names = [str(p.relative_to(root).with_suffix("")).replace("/", ".") for p in paths]
    suite = unittest.defaultTestLoader.loadTestsFromNames(names)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    return result.wasSuccessful()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec_file", type=Path)
    parser.add_argument("--pace", type=float, default=0.0, help="pause between steps (seconds)")
    args = parser.parse_args(argv)

    def step(text: str) -> None:
        print(text, flush=True)
        time.sleep(args.pace)

    for line in BANNER:
        print(line, flush=True)
    spec = args.spec_file.read_text(encoding="utf-8")
    root = Path.cwd()
    step(f'reading the spec "{spec_title(spec)}" ({len(spec.splitlines())} lines)')
    blocks = file_blocks(spec)
    if not blocks:
        step("the spec has no ```LANG file=PATH blocks, so this scripted agent has nothing to do")
        return 0
    step(f"plan: write {', '.join(block.path for block in blocks)}")
    written: list[Path] = []
    for block in blocks:
        target = safe_path(root, block.path)
        verb = "updating" if target.exists() else "creating"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.content, encoding="utf-8")
        written.append(target)
        step(f"{verb} {block.path} ({len(block.content.splitlines())} lines)")
    tests = [p for p in written if p.name.startswith("test_") and p.suffix == ".py"]
    if tests:
        step(f"running the tests it wrote: {', '.join(p.name for p in tests)}")
        if not run_tests(tests, root):
            print("the tests failed; a real agent would now try to fix the code", flush=True)
            return 1
    step(f"done: {len(written)} files written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
