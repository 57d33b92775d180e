"""Tables for humans, and text from elsewhere made safe to print (colour and JSON are
IOStreams' business)."""

from __future__ import annotations

# C0 controls but tab and newline, DEL, and the C1 controls (a terminal acts on \x9b as on
# ESC [): each becomes visible text, so text an agent wrote cannot retitle, clear or move
# around the user's terminal.
_CONTROLS = {c: f"^{chr(c ^ 0x40)}" for c in (*range(0x20), 0x7F) if chr(c) not in "\t\n"}
_CONTROLS.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})


def visible(text: str, *, lines: bool = True) -> str:
    """`text` with every control character shown as `^[`-style (C0, DEL) or `\\x9b`-style
    (C1) text. `lines`: keep newlines and tabs (else they are shown too)."""
    if text.isprintable():
        return text
    shown = text.translate(_CONTROLS)
    return shown if lines else shown.replace("\t", "^I").replace("\n", "^J")


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
