"""Tables for humans, and text from elsewhere made safe to print (`visible`, from
ckrv/terminal_text.py; colour and JSON are IOStreams' business)."""

from __future__ import annotations

from ckrv.terminal_text import visible

__all__ = ["table", "visible"]


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
