"""The repository explains itself: code, tests and benchmarks cite only documents that are in
it (docs/architecture.md, docs/security.md), and every checklist item they cite exists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.helpers import ROOT

_SOURCES = ("ckrv", "tests", "bench", "scripts")
_OUTSIDE = re.compile(r"\b(DESIGN\.md|SECURITY\.md)\b|\(issue \d+\)")
_CITED_ITEMS = re.compile(r"docs/security\.md\s+items?\s+([\d,\s-]+)")


def _texts() -> list[tuple[Path, str]]:
    found = []
    for folder in _SOURCES:
        for path in sorted((ROOT / folder).rglob("*")):
            if (
                path.is_file()
                and path.suffix in {".py", ".sh", ""}
                and "__pycache__" not in path.parts
            ):
                try:
                    found.append((path, path.read_text()))
                except UnicodeDecodeError:
                    continue
    return found


def test_no_source_cites_a_document_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path, text in _texts()
        if path.name != Path(__file__).name
        for n, line in enumerate(text.splitlines(), 1)
        if _OUTSIDE.search(line)
    ]
    assert offenders == []


def test_every_cited_security_item_exists() -> None:
    checklist = (ROOT / "docs" / "security.md").read_text()
    items = {int(m) for m in re.findall(r"^(\d+)\. ", checklist, flags=re.M)}
    cited: set[int] = set()
    for _, text in _texts():
        for match in _CITED_ITEMS.finditer(text):
            for part in re.split(r"[,\s]+", match.group(1).strip()):
                low, _, high = part.partition("-")
                if low.isdigit():
                    cited.update(range(int(low), int(high or low) + 1))
    assert cited, "no citation found: the pattern is wrong"
    assert cited <= items, f"cited but not in docs/security.md: {sorted(cited - items)}"


def test_the_architecture_names_only_files_that_exist() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)(?::\w+)?", text))
    files = [
        p.relative_to(ROOT).as_posix() for d in ("ckrv", "tests") for p in ROOT.glob(f"{d}/**/*.py")
    ]
    missing = [n for n in sorted(named) if not any(f == n or f.endswith("/" + n) for f in files)]
    assert named, "no file name found: the pattern is wrong"
    assert missing == []
