"""Masks known secret values in the text the worker forwards (SECURITY.md 20).

What is masked, for every secret of `MIN_SECRET_LENGTH` characters or more:
- the raw value, and the value with surrounding whitespace stripped;
- its URL-encoded forms (`quote` and `quote_plus`) and its JSON-escaped form;
- its base64 forms (standard and URL-safe alphabets) at each of the three byte alignments, so
  the value is found also when it is encoded as part of a larger string, e.g. the
  `x-access-token:TOKEN` inside an `Authorization: Basic ...` header. Only the characters that
  depend on the secret alone are matched, so up to two characters either side may stay visible;
- each line of a multi-line value (a private key) that is itself long enough.

Occurrences may overlap: every character covered by any occurrence is masked, and masking is
repeated until no occurrence is left (a replacement can join text into a new one).

`StreamMasker` gives the same guarantee over text that arrives in arbitrary chunks: it holds back
the shortest tail that could still grow into an occurrence (never more than the longest form
minus one character) and releases it with the next chunk or `flush()`. Text that cannot start
an occurrence is released at once, so ordinary log lines are not delayed.

Masking is the second line of defence; not putting secrets in commands is the first.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 8


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
    """Every string that counts as a leak of `secret` (empty when it is too short to mask)."""
    values = {secret, secret.strip()}
    values |= {line.strip() for line in secret.splitlines()}
    forms: set[str] = set()
    for value in values:
        if len(value) < MIN_SECRET_LENGTH:
            continue
        forms |= {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
        forms |= _base64_cores(value.encode())
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _intervals(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """Merged [start, end) spans covered by any occurrence, overlapping ones included."""
    merged: list[tuple[int, int]] = []
    # A lookahead matches at every start position; alternatives are sorted longest first, so
    # the match at a position covers every shorter occurrence that starts there.
    for match in pattern.finditer(text):
        start, end = match.start(), match.start() + len(match.group(1))
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
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
    """Replaces every form of every known secret in a piece of text with `MASK`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            forms |= secret_forms(secret)
        self.forms = sorted(forms, key=len, reverse=True)
        self.longest = len(self.forms[0]) if self.forms else 0
        self._by_first: dict[str, list[str]] = {}
        for form in self.forms:
            self._by_first.setdefault(form[0], []).append(form)
        self.first_chars = frozenset(self._by_first)
        alternatives = "|".join(re.escape(form) for form in self.forms)
        self._pattern = re.compile(f"(?=({alternatives}))") if self.forms else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def spans(self, text: str) -> list[tuple[int, int]]:
        return _intervals(self._pattern, text) if self._pattern is not None else []

    def mask(self, text: str) -> str:
        if self._pattern is None:
            return text
        # Each pass shortens the text (every form is longer than MASK), so this ends.
        while spans := self.spans(text):
            text = _replace(text, spans)
        return text

    def could_grow(self, tail: str) -> bool:
        """Whether `tail` is a proper prefix of some form (more text could complete it)."""
        candidates = self._by_first.get(tail[:1], ())
        return any(len(form) > len(tail) and form.startswith(tail) for form in candidates)


class StreamMasker:
    """Masks text that arrives in chunks: `feed(chunk)` returns what is safe to forward now,
    `flush()` the rest at the end of the stream."""

    def __init__(self, masker: Masker) -> None:
        self.masker = masker
        self._pending = ""

    def feed(self, chunk: str) -> str:
        if not self.masker:
            return chunk
        buffer = self._pending + chunk
        spans = self.masker.spans(buffer)
        cut = self._hold_from(buffer)
        for start, end in spans:
            if start < cut < end:  # never split an occurrence: hold all of it back
                cut = start
        self._pending = buffer[cut:]
        return self.masker.mask(buffer[:cut])

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return self.masker.mask(rest)

    def _hold_from(self, buffer: str) -> int:
        """Start of the longest tail of `buffer` that could still become an occurrence."""
        for start in range(max(0, len(buffer) - self.masker.longest + 1), len(buffer)):
            if buffer[start] in self.masker.first_chars and self.masker.could_grow(buffer[start:]):
                return start
        return len(buffer)
