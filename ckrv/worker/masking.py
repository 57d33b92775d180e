"""Masks known secret values in every line the worker forwards (SECURITY.md 20).

First version: raw values only, line by line. The credentials work extends it (encoded forms,
multi-line keys, values split across chunks) behind the same interface."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "***"
MIN_SECRET_LENGTH = 8


class Masker:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text
