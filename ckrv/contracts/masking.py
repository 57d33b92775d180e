"""Masking secrets in text: the worker masks every line it forwards, and the server masks the
lines it ingests again, with the same code.

What is masked, for every secret of `MIN_SECRET_LENGTH` characters or more:
- the raw value, and the value with surrounding whitespace stripped;
- its URL-encoded forms (`quote` and `quote_plus`) and its JSON-escaped form;
- its base64 forms (standard and URL-safe alphabets) at each of the three byte alignments, so
  the value is found also when it is encoded as part of a larger string, e.g. the
  `x-access-token:TOKEN` inside an `Authorization: Basic ...` header. Only the characters that
  depend on the secret alone are matched, so up to two characters either side may stay visible;
- each line of a multi-line value (a private key) that is itself long enough, raw and
  JSON-escaped (the whole value's encodings cover it encoded as a whole).

Occurrences may overlap: every character covered by any occurrence is masked, and masking is
repeated until no occurrence is left (a replacement can join text into a new one).

`scrub` also removes what needs no known value: URLs' userinfo and well-known token shapes.

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
    """Every string that counts as a leak of `secret` (empty when it is too short to mask)."""
    forms: set[str] = set()
    for value in {secret, secret.strip()}:
        if len(value) >= MIN_SECRET_LENGTH:
            forms |= {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
            forms |= _base64_cores(value.encode())
    for raw_line in secret.splitlines():  # a key printed in part, or line by line
        for line in {raw_line, raw_line.strip()}:  # strip() may eat non-ASCII spaces too
            if len(line) >= MIN_SECRET_LENGTH:
                forms |= {line, json.dumps(line)[1:-1]}
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
        # Every occurrence of a form (8+ characters) covers a GRAM-long window starting at a
        # multiple of GRAM, which is one of the form's first GRAM windows: text without any of
        # those windows at aligned positions cannot hold a form. Checking one window in GRAM
        # makes the common case, a line with no secret, cheap.
        self._grams = frozenset(form[i : i + _GRAM] for form in self.forms for i in range(_GRAM))
        alternatives = "|".join(re.escape(form) for form in self.forms)
        self._pattern = re.compile(f"(?=({alternatives}))") if self.forms else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def first_aligned_hit(self, text: str, start: int = 0) -> int | None:
        """The first multiple of GRAM at or after `start` where a form's window occurs."""
        grams = self._grams
        for position in range(-(-start // _GRAM) * _GRAM, len(text) - _GRAM + 1, _GRAM):
            if text[position : position + _GRAM] in grams:
                return position
        return None

    def spans(self, text: str) -> list[tuple[int, int]]:
        if self._pattern is None or self.first_aligned_hit(text) is None:
            return []
        return _intervals(self._pattern, text)

    def mask(self, text: str) -> str:
        # Each pass shortens the text (every form is longer than MASK), so this ends.
        while spans := self.spans(text):
            text = _replace(text, spans)
        return text


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
