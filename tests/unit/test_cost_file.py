"""The cost file an agent writes (CKRV_COST_FILE) is hostile input: the worker takes a finite
number in bounds from a small regular file and nothing else; whatever else is there is ignored
with a warn line that does not repeat it, and never hangs or fails the job."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from ckrv.contracts.cost import valid_total
from ckrv.worker.cost import add_cost


@dataclass
class Said:
    """Stands in for the JobContext: what add_cost reads and writes of it."""

    cost_usd: float | None = None
    lines: list[tuple[str, str]] = field(default_factory=list)

    def say(self, message: str, level: str = "info") -> None:
        self.lines.append((level, message))


def counted(path: Path, ctx: Said | None = None) -> Said:
    ctx = ctx or Said()
    add_cost(cast(Any, ctx), path)
    return ctx


@pytest.mark.parametrize(
    ("text", "cost"), [("0.42", 0.42), ('{"cost_usd": 1.5}\n', 1.5), (" 3 ", 3.0), ("0", 0.0)]
)
def test_a_number_or_an_object_is_counted(tmp_path: Path, text: str, cost: float) -> None:
    (tmp_path / "cost").write_text(text)
    ctx = counted(tmp_path / "cost")
    assert ctx.cost_usd == cost
    assert ctx.lines == [("info", f"the agent reported a cost of ${cost:.4g} for this run")]


def test_runs_add_up_and_a_missing_file_adds_nothing(tmp_path: Path) -> None:
    (tmp_path / "one").write_text("0.1")
    (tmp_path / "two").write_text("0.2")
    ctx = counted(tmp_path / "two", counted(tmp_path / "absent", counted(tmp_path / "one")))
    assert ctx.cost_usd == pytest.approx(0.3) and len(ctx.lines) == 2


@pytest.mark.parametrize(
    "text",
    ["NaN", "Infinity", "-1", "1e9", "true", '"0.5"', '{"cost_usd": null}', "[1]", "one", "1_0"],
)
def test_garbage_is_ignored_with_a_warning_that_does_not_repeat_it(
    tmp_path: Path, text: str
) -> None:
    (tmp_path / "cost").write_text(text)
    ctx = counted(tmp_path / "cost")
    assert ctx.cost_usd is None
    [(level, message)] = ctx.lines
    assert level == "warn" and message.startswith("ignored the agent's cost file (CKRV_COST_FILE)")
    assert text not in message.split(": ", 1)[1].replace("NUMBER", "")


def test_a_long_file_a_symlink_and_a_fifo_are_refused_without_reading_them(
    tmp_path: Path,
) -> None:
    (tmp_path / "long").write_text("1" + " " * 400)
    (tmp_path / "secret").write_text("0.5")
    (tmp_path / "link").symlink_to(tmp_path / "secret")
    os.mkfifo(tmp_path / "fifo")  # opening it to read would block a careless reader for ever
    reasons = [counted(tmp_path / name).lines[0][1] for name in ("long", "link", "fifo")]
    assert reasons[0].endswith("it is longer than 256 bytes")
    assert "it cannot be opened" in reasons[1]
    assert reasons[2].endswith("it is not a regular file")


def test_the_server_refuses_a_total_that_no_runs_could_cost() -> None:
    assert valid_total(0.75, 2) and valid_total(20_000, 2) and not valid_total(20_001, 2)
    for value in (-0.01, float("nan"), float("inf"), 10**400, True, "1", None):
        assert not valid_total(value, 4)
