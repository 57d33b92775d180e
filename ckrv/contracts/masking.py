"""Masking secrets in text: the worker masks every line it forwards, and the server masks every
field a worker writes again, with the same forms.

What is masked, for every secret of `MIN_SECRET_LENGTH` characters or more:
- the raw value, and the value with surrounding whitespace stripped;
- its URL-encoded forms (`quote` and `quote_plus`) and its JSON-escaped form;
- its base64 forms (standard and URL-safe alphabets) at each of the three byte alignments, so
  the value is found also when it is encoded as part of a larger string, e.g. the
  `x-access-token:TOKEN` inside an `Authorization: Basic ...` header. Only the characters that
  depend on the secret alone are matched, so up to two characters either side may stay visible;
- each line of a multi-line value (a private key) that is itself long enough, raw and
  JSON-escaped (the whole value's encodings cover it encoded as a whole), for its first
  `MAX_LINES_PER_SECRET` lines.

So a secret adds at most `MAX_FORMS_PER_SECRET` forms (10 per whole-value variant, raw and
stripped; 4 per line), each at most about 1.4 times as long as the secret (base64) or 3 times
(URL-encoding): the server's cap on a user's total secret bytes bounds what one masker holds.

Occurrences may overlap: every character covered by any occurrence is masked, and masking is
repeated until no occurrence is left (a replacement can join text into a new one), at most
`MAX_PASSES` times; text still holding an occurrence after that is masked whole.

Finding occurrences is linear in the text whatever the number of forms: an Aho-Corasick
automaton that keeps, for each state, the longest form ending there (the only one that matters
for what is covered), so every character of the text costs a bounded number of steps.

`scrub` also removes what needs no known value: URLs' userinfo and well-known token shapes.

Masking is the second line of defence; not putting secrets in commands is the first.
"""

from __future__ import annotations

import base64
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 8
MAX_LINES_PER_SECRET = 512
MAX_FORMS_PER_SECRET = 2 * 10 + 4 * MAX_LINES_PER_SECRET
MAX_PASSES = 4
_GRAM = 4  # at most MIN_SECRET_LENGTH // 2, so every form spans an aligned window


def _base64_cores(raw: bytes) -> set[str]:
    """The base64 characters that depend only on `raw`, at each byte alignment."""
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0\0").decode()
        first = -(-8 * offset // 6)  # the first character whose 6 bits all come from `raw`
        end = 8 * (offset + len(raw)) // 6  # one past the last such character
        core = encoded[first:end]
        cores.add(core)
        cores.add(core.replace("+", "-").replace("/", "_"))
    return cores


def secret_forms(secret: str) -> set[str]:
    """Every string that counts as a leak of `secret` (empty when it is too short to mask);
    at most MAX_FORMS_PER_SECRET of them."""
    forms: set[str] = set()
    for value in {secret, secret.strip()}:
        if len(value) >= MIN_SECRET_LENGTH:
            forms |= {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
            forms |= _base64_cores(value.encode())
    lines = secret.splitlines()
    if len(lines) > 1:  # a key printed in part, or line by line
        for raw_line in lines[:MAX_LINES_PER_SECRET]:
            for line in {raw_line, raw_line.strip()}:  # strip() may eat non-ASCII spaces too
                if len(line) >= MIN_SECRET_LENGTH:
                    forms |= {line, json.dumps(line)[1:-1]}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Matcher(Protocol):
    """Finds where forms end in a text: for each position where at least one form ends, the
    position just after it and the length of the longest form ending there, in order.
    `prefilter`: whether a cheaper check of aligned windows should run first (worth it for a
    matcher written in Python, not for one in C)."""

    prefilter: bool

    def ends(self, text: str) -> Iterator[tuple[int, int]]: ...


class AhoCorasick:
    """The standard library's matcher: an Aho-Corasick automaton over the forms' characters
    (goto tables as dicts, failure links), each state knowing the longest form that ends
    there, found directly or through its failure links."""

    prefilter = True

    def __init__(self, forms: Iterable[str]) -> None:
        goto: list[dict[str, int]] = [{}]
        longest = [0]
        for form in forms:
            state = 0
            for char in form:
                nxt = goto[state].get(char)
                if nxt is None:
                    nxt = goto[state][char] = len(goto)
                    goto.append({})
                    longest.append(0)
                state = nxt
            longest[state] = len(form)  # a state's depth: the form that ends there
        fail = [0] * len(goto)
        queue = deque(goto[0].values())  # the root's children fail to the root
        while queue:
            state = queue.popleft()
            for char, nxt in goto[state].items():
                back = fail[state]
                while back and char not in goto[back]:
                    back = fail[back]
                fail[nxt] = goto[back].get(char, 0)
                longest[nxt] = max(longest[nxt], longest[fail[nxt]])
                queue.append(nxt)
        self._goto, self._fail, self._longest = goto, fail, longest

    def ends(self, text: str) -> Iterator[tuple[int, int]]:
        goto, fail, longest = self._goto, self._fail, self._longest
        state = 0
        for index, char in enumerate(text):
            nxt = goto[state].get(char)
            while nxt is None and state:  # each step back is paid for by a step forward
                state = fail[state]
                nxt = goto[state].get(char)
            state = nxt or 0
            if longest[state]:
                yield index + 1, longest[state]


def _intervals(matcher: Matcher, text: str) -> list[tuple[int, int]]:
    """Merged [start, end) spans covered by any occurrence, overlapping ones included."""
    merged: list[tuple[int, int]] = []
    for end, length in matcher.ends(text):
        start = end - length
        # Ends only grow, but a long occurrence may start before earlier spans: absorb them.
        while merged and start <= merged[-1][1]:
            start = min(start, merged.pop()[0])
        merged.append((start, end))
    return merged


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    parts, position = [], 0
    for start, end in spans:
        parts += [text[position:start], MASK]
        position = end
    parts.append(text[position:])
    return "".join(parts)


class Masker:
    """Replaces every form of every known secret in a piece of text with `MASK`. `matcher`
    builds the automaton from the forms (the standard library's by default)."""

    def __init__(
        self,
        secrets: Iterable[str] = (),
        matcher: Callable[[list[str]], Matcher] = AhoCorasick,
    ) -> None:
        forms: set[str] = set()
        for secret in secrets:
            forms |= secret_forms(secret)
        self.forms = sorted(forms, key=len, reverse=True)
        # Every occurrence of a form (8+ characters) covers a GRAM-long window starting at a
        # multiple of GRAM, which is one of the form's first GRAM windows: text without any of
        # those windows at aligned positions cannot hold a form. Checking one window in GRAM
        # makes the common case, a line with no secret, cheap.
        self._grams = frozenset(form[i : i + _GRAM] for form in self.forms for i in range(_GRAM))
        self._matcher = matcher(self.forms) if forms else None
        self._prefilter = self._matcher is not None and self._matcher.prefilter

    def __bool__(self) -> bool:
        return self._matcher is not None

    def first_aligned_hit(self, text: str, start: int = 0) -> int | None:
        """The first multiple of GRAM at or after `start` where a form's window occurs."""
        grams = self._grams
        for position in range(-(-start // _GRAM) * _GRAM, len(text) - _GRAM + 1, _GRAM):
            if text[position : position + _GRAM] in grams:
                return position
        return None

    def spans(self, text: str) -> list[tuple[int, int]]:
        if self._matcher is None or (self._prefilter and self.first_aligned_hit(text) is None):
            return []
        return _intervals(self._matcher, text)

    def mask(self, text: str) -> str:
        for _ in range(MAX_PASSES):
            spans = self.spans(text)
            if not spans:
                return text
            text = _replace(text, spans)
        # Still an occurrence after MAX_PASSES replacements (text built to rejoin a secret
        # around each mask): the whole text goes, rather than more passes over it.
        return MASK if self.spans(text) else text


_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]*@")
# Well-known token shapes, masked even when the value is not known to this process.
_TOKEN_SHAPES = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|ATBB[A-Za-z0-9]{20,})"
)


def scrub(text: str, secrets: Iterable[str] | Masker = ()) -> str:
    """`text` without URLs' userinfo, well-known token shapes, or any form of `secrets`."""
    masker = secrets if isinstance(secrets, Masker) else Masker(secrets)
    text = masker.mask(text)
    text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    return _TOKEN_SHAPES.sub("***", text)
