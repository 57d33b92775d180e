"""What a job's agent run cost, as its agent reports it: the worker sets `CKRV_COST_FILE` (a
path in the job's tmp directory, inside its sandbox) for each run of the agent (the first and
each fix round), and the agent or its wrapper may write there what that run cost in US
dollars: a bare number (`0.42`) or a JSON object (`{"cost_usd": 0.42}`). The worker sums the
runs' costs into the job's `cost_usd`; a run that writes nothing adds nothing, and a job none
of whose runs wrote a cost has none (null: unknown).

The file is the agent's, so hostile input: the worker reads it without following a symlink,
only as a regular file, at most MAX_FILE_BYTES; anything but a finite number from 0 to
MAX_RUN_COST_USD is ignored (a warn line in the log says so, without its content), never a
failure. The server checks the total again (`valid_total`)."""

from __future__ import annotations

import json
import math
from typing import Any

MAX_FILE_BYTES = 256
MAX_RUN_COST_USD = 10_000.0  # far above any agent run's cost: a larger number is a mistake


class CostRefused(ValueError):
    """What the agent wrote is not a cost; the message says why (never what it wrote)."""


def parse_cost(data: bytes) -> float:
    """The cost a cost file holds, or CostRefused."""
    if len(data) > MAX_FILE_BYTES:
        raise CostRefused(f"it is longer than {MAX_FILE_BYTES} bytes")
    try:
        value: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CostRefused('it is not a number or {"cost_usd": NUMBER}') from None
    if isinstance(value, dict):
        value = value.get("cost_usd")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CostRefused('it is not a number or {"cost_usd": NUMBER}')
    if not valid_total(value, 1):
        raise CostRefused(f"the cost must be a number from 0 to {MAX_RUN_COST_USD:g}")
    return float(value)


def valid_total(value: Any, runs: int) -> bool:
    """Whether `value` can be the summed cost of up to `runs` agent runs."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        number = float(value)  # an integer JSON may hold is unbounded
    except OverflowError:
        return False
    return math.isfinite(number) and 0 <= number <= MAX_RUN_COST_USD * runs
