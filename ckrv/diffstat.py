"""A diff's size in git's words, shared by the worker's summary and the CLI's job card."""

from __future__ import annotations

from collections.abc import Mapping


def diffstat_text(stats: Mapping[str, int]) -> str:
    """`2 files changed, 17 insertions(+), 1 deletion(-)`."""

    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return (
        f"{count(stats['files_changed'], 'file')} changed, "
        f"{count(stats['insertions'], 'insertion')}(+), {count(stats['deletions'], 'deletion')}(-)"
    )
