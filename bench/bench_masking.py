"""How much the masker costs per forwarded log line, side by side in one run.

Cases: no secrets; two tokens; ten tokens; two tokens plus a 4096-bit RSA deploy key (each
of its lines and every encoded form becomes a pattern). For each: lines per second through
`Masker.mask`, against the first version's plain `str.replace` loop over
raw values, on ~100-character log lines of which 1 in 50 holds a secret.

    python bench/bench_masking.py
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ckrv.contracts.masking import Masker

LINES = 20_000


def rsa_key() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "rsa", "-b", "4096", "-N", "", "-f", str(path)], check=True
        )
        return path.read_text()


def log_lines(secret_values: list[str]) -> list[str]:
    lines = []
    for i in range(LINES):
        line = f"[{i:06d}] compiling module_{i % 97}.py ... ok ({i % 13} warnings) " + "x" * 30
        if secret_values and i % 50 == 0:
            line += f" token={secret_values[i % len(secret_values)].splitlines()[0]}"
        lines.append(line + "\n")
    return lines


def rate(fn: Callable[[str], str], lines: list[str]) -> float:
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for line in lines:
            fn(line)
        best = max(best, len(lines) / (time.perf_counter() - start))
    return best


def replace_loop(values: list[str]) -> Callable[[str], str]:
    ordered = sorted(values, key=len, reverse=True)

    def mask(text: str) -> str:
        for value in ordered:
            text = text.replace(value, "***")
        return text

    return mask


def main() -> None:
    tokens = [f"ghp_{secrets.token_urlsafe(27)}" for _ in range(10)]
    cases = {
        "none": [],
        "2 tokens": tokens[:2],
        "10 tokens": tokens,
        "2 tokens + RSA-4096 key": [*tokens[:2], rsa_key()],
    }
    results = []
    print(f"{'case':<26}{'forms':>7}{'replace loop':>15}{'Masker.mask':>14}{'mask/replace':>14}")
    for name, values in cases.items():
        lines = log_lines(values)
        masker = Masker(values)
        row = {
            "case": name,
            "forms": len(masker.forms),
            "replace_lines_per_s": rate(replace_loop(values), lines),
            "mask_lines_per_s": rate(masker.mask, lines),
        }
        row["mask_vs_replace"] = row["mask_lines_per_s"] / row["replace_lines_per_s"]
        results.append(row)
        print(
            f"{name:<26}{row['forms']:>7}{row['replace_lines_per_s']:>15,.0f}"
            f"{row['mask_lines_per_s']:>14,.0f}{row['mask_vs_replace']:>14.2f}"
        )
    out = Path(__file__).resolve().parent / "results" / "bench_masking.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"lines": LINES, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
