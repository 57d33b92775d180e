"""The server's matcher for the masker: the Rust `aho-corasick` crate's automaton (through
ahocorasick-rs), several times faster than the standard library's (ckrv/contracts/masking.py:
AhoCorasick), which matters on the server: it masks every worker's output for every user. The
worker keeps the standard library's (contracts import nothing else).

The library reports every occurrence, overlapping ones included: at one position as many as
there are forms that are suffixes of the longest one ending there. That number (the form set's
suffix depth) is bounded here: past `MAX_SUFFIX_DEPTH` (only a contrived secret set, like
`aaaaaaaa`, `aaaaaaaaa`, ... gets there) the standard library's automaton is used instead,
which keeps one form per position. Either way masking stays linear in the text."""

from __future__ import annotations

from collections.abc import Iterator

import ahocorasick_rs

from ckrv.contracts.masking import AhoCorasick, Matcher

MAX_SUFFIX_DEPTH = 8


class LibraryMatcher:
    prefilter = False  # the library's scan is cheaper than the aligned-window check in Python

    def __init__(self, forms: list[str]) -> None:
        self._lengths = [len(form) for form in forms]
        self._automaton = ahocorasick_rs.AhoCorasick(
            forms, matchkind=ahocorasick_rs.MatchKind.Standard
        )

    def ends(self, text: str) -> Iterator[tuple[int, int]]:
        longest: dict[int, int] = {}
        lengths = self._lengths
        for index, _start, end in self._automaton.find_matches_as_indexes(text, overlapping=True):
            if lengths[index] > longest.get(end, 0):
                longest[end] = lengths[index]
        return iter(sorted(longest.items()))


def suffix_depth(forms: list[str]) -> int:
    """The most forms that end one form (itself included): the most occurrences that can end
    at one position of a text."""
    known = set(forms)
    sizes = sorted({len(form) for form in forms})
    depth = 0
    for form in forms:
        count = sum(1 for size in sizes if size <= len(form) and form[-size:] in known)
        depth = max(depth, count)
    return depth


def server_matcher(forms: list[str]) -> Matcher:
    if suffix_depth(forms) > MAX_SUFFIX_DEPTH:
        return AhoCorasick(forms)
    return LibraryMatcher(forms)
