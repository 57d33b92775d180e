"""A job's unified diff as the job page shows it: files with their +/- counts, hunks as rows
with line numbers, each line highlighted by Pygments for its file's language (on the server:
the page gets plain spans with classes, styled by /static/highlight.css), and the same rows
paired for the side-by-side view. Big diffs stay cheap: a file with many changed lines is
shown collapsed, a huge one unhighlighted, and past a total size only the file list."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import zip_longest

from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

COLLAPSE_LINES = 400  # changed lines above which a file's section starts closed
HIGHLIGHT_LINES = 3000  # a file section longer than this is shown unhighlighted
RENDER_BYTES = 4 * 1024 * 1024  # above this, only the file list (and the .patch download)

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")
_FORMATTER = HtmlFormatter(nowrap=True)


@dataclass
class Row:
    kind: str  # "ctx", "add", "del", "hunk", "note"
    old: int | None
    new: int | None
    text: str
    html: Markup = field(default_factory=Markup)


@dataclass
class FileDiff:
    path: str
    old_path: str | None = None
    change: str = "modified"  # added, deleted, renamed, modified, binary
    added: int = 0
    removed: int = 0
    rows: list[Row] = field(default_factory=list)

    @property
    def collapsed(self) -> bool:
        return self.added + self.removed > COLLAPSE_LINES

    @property
    def anchor(self) -> str:
        return "file-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.path)

    def pairs(self) -> list[tuple[Row | None, Row | None]]:
        """The rows side by side: context on both sides, a removed run beside the added run
        that follows it."""
        out: list[tuple[Row | None, Row | None]] = []
        removed: list[Row] = []
        added: list[Row] = []

        def flush() -> None:
            out.extend(zip_longest(removed, added))
            removed.clear()
            added.clear()

        for row in self.rows:
            if row.kind == "del":
                if added:
                    flush()
                removed.append(row)
            elif row.kind == "add":
                added.append(row)
            else:
                flush()
                out.append((row, row))
        flush()
        return out


def _path(header: str) -> str:
    name = header[4:].split("\t", 1)[0].strip()
    if name.startswith(('"a/', '"b/')):
        name = name[1:-1]
    return name[2:] if name.startswith(("a/", "b/")) else name


def parse(text: str) -> list[FileDiff]:
    files: list[FileDiff] = []
    current: FileDiff | None = None
    old = new = 0
    for line in text.split("\n"):
        if line.startswith("diff --git "):
            parts = line.split(" b/", 1)
            current = FileDiff(parts[1] if len(parts) == 2 else line[11:])
            files.append(current)
        elif current is None:
            continue
        elif line.startswith("new file mode"):
            current.change = "added"
        elif line.startswith("deleted file mode"):
            current.change = "deleted"
        elif line.startswith("rename from "):
            current.change, current.old_path = "renamed", line[12:]
        elif line.startswith("Binary files "):
            current.change = "binary"
        elif line.startswith("--- ") and not current.rows:
            if line[4:] != "/dev/null" and current.change == "modified":
                current.old_path = _path(line)
        elif line.startswith("+++ ") and not current.rows:
            if line[4:] != "/dev/null":
                current.path = _path(line)
        elif match := _HUNK.match(line):
            old, new = int(match.group(1)), int(match.group(2))
            current.rows.append(Row("hunk", None, None, line))
        elif line.startswith("+") and current.rows:
            current.rows.append(Row("add", None, new, line[1:]))
            current.added += 1
            new += 1
        elif line.startswith("-") and current.rows:
            current.rows.append(Row("del", old, None, line[1:]))
            current.removed += 1
            old += 1
        elif line.startswith(" ") and current.rows:
            current.rows.append(Row("ctx", old, new, line[1:]))
            old += 1
            new += 1
        elif line.startswith("\\") and current.rows:
            current.rows.append(Row("note", None, None, line))
    if current is not None and current.old_path == current.path:
        current.old_path = None
    for f in files:
        if f.old_path == f.path:
            f.old_path = None
    return files


def _lexer(path: str) -> Lexer:
    try:
        return get_lexer_for_filename(path, stripnl=False, stripall=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


def highlight_file(diff: FileDiff) -> None:
    """Each row's html: its text highlighted with the file's lexer, one Pygments pass over
    the whole section (so strings and comments spanning lines come out right)."""
    body = [r for r in diff.rows if r.kind in ("ctx", "add", "del")]
    for row in diff.rows:
        if row.kind not in ("ctx", "add", "del"):
            row.html = escape(row.text)
    if not body:
        return
    if len(diff.rows) <= HIGHLIGHT_LINES:
        text = "\n".join(r.text for r in body)
        lines = highlight(text, _lexer(diff.path), _FORMATTER).split("\n")
        if len(lines) >= len(body):
            for row, html in zip(body, lines, strict=False):
                row.html = Markup(html)
            return
    for row in body:
        row.html = escape(row.text)


def render_ready(text: str) -> tuple[list[FileDiff], bool]:
    """(files, whether their rows are shown): past RENDER_BYTES only the list is."""
    files = parse(text)
    if len(text) > RENDER_BYTES:
        for f in files:
            f.rows = []
        return files, False
    for f in files:
        highlight_file(f)
    return files, True
