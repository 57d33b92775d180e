"""What each run of the agent cost, as the agent reports it (ckrv/contracts/cost.py): a fresh
`CKRV_COST_FILE` in the job's tmp directory for every run, read once the run ends without
trusting it (no symlink followed, a regular file only, a few bytes), and summed into the job's
cost. Whatever is not a cost is ignored with a warn line; it never fails the job."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ckrv.contracts import launch_env
from ckrv.contracts.cost import MAX_FILE_BYTES, CostRefused, parse_cost
from ckrv.worker.context import JobContext


def offer_cost_file(ctx: JobContext) -> Path:
    """The file this run of the agent may write its cost to, set in its environment."""
    tmp = ctx.sandbox.tmp if ctx.sandbox is not None else ctx.workspace / "tmp"
    tmp.mkdir(exist_ok=True)  # a sandbox made it already, owned by the commands' user
    ctx.agent_runs += 1
    path = tmp / f"ckrv-cost-{ctx.agent_runs}"
    ctx.extra_env[launch_env.COST_FILE] = str(path)
    return path


def _read(path: Path) -> bytes | None:
    """The file's first bytes (one more than allowed, to tell it is too long); None: absent."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a symlink (ELOOP), no permission...
        raise CostRefused(f"it cannot be opened ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CostRefused("it is not a regular file")
        return os.read(fd, MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)


def add_cost(ctx: JobContext, path: Path) -> None:
    """Add what the run wrote in `path` to the job's cost; a line says what was counted."""
    try:
        data = _read(path)
        if data is None:
            return
        cost = parse_cost(data)
    except CostRefused as exc:
        ctx.say(f"ignored the agent's cost file ({launch_env.COST_FILE}): {exc}", "warn")
        return
    ctx.cost_usd = round((ctx.cost_usd or 0.0) + cost, 6)
    ctx.say(f"the agent reported a cost of ${cost:.4g} for this run")
