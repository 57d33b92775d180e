"""Text from elsewhere (an agent's output, a server's error) made safe to print on a terminal:
what the CLI and the worker both print, so it lives outside either."""

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
