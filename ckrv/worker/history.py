"""What the agent is told beyond its spec: the history file (`CKRV_HISTORY_FILE`: earlier
steps of a follow-up thread, the current instruction, failing verify output of earlier fix
rounds) and the verify transcripts (`CKRV_VERIFY_OUTPUT_FILE` holds the last failing one).
Presets get the history as their prompt; other agents read the files."""

from __future__ import annotations

import shlex
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ckrv.worker.process import LineSink

LineMask = Callable[[str], str]
MAX_TRANSCRIPT_CHARS = 256 * 1024  # the tail is kept: a failure's cause is usually at the end
FIX_INSTRUCTION = (
    "The verify commands failed on your change (output above). Fix the code so that they "
    "pass; do not weaken or skip the checks."
)


@dataclass(frozen=True)
class EarlierStep:
    """One earlier job of the thread: its spec and how it ended."""

    job_id: str
    spec: str
    summary: str


@dataclass
class History:
    spec: str  # this job's instruction
    earlier: Sequence[EarlierStep] = ()
    failures: list[tuple[int, str]] = field(default_factory=list)  # (fix round, transcript)

    @property
    def plain(self) -> bool:
        """Nothing beyond the spec: an agent is given the spec as it is."""
        return not self.earlier and not self.failures

    def text(self) -> str:
        if self.plain:
            return self.spec
        parts: list[str] = []
        if self.earlier:
            parts.append(
                "# Earlier steps\n\nThe repository already holds the result of these steps; "
                "build on it."
            )
            for n, step in enumerate(self.earlier, 1):
                parts.append(f"## Step {n} (job {step.job_id})\n\n{step.spec.strip()}")
                parts.append(f"### Result of step {n}\n\n{step.summary.strip() or '-'}")
            parts.append("# Now\n")
        parts.append(self.spec.strip())
        for fix_round, transcript in self.failures:
            parts.append(
                f"# Verify failed (before fix round {fix_round})\n\n```\n"
                f"{transcript.rstrip()}\n```\n\n{FIX_INSTRUCTION}"
            )
        return "\n\n".join(parts) + "\n"


class Transcript:
    """One verify run: each command, its output lines and its exit code, as text."""

    def __init__(self) -> None:
        self._lines: deque[str] = deque()
        self._chars = 0
        self._dropped = 0

    def add(self, line: str) -> None:
        self._lines.append(line)
        self._chars += len(line) + 1
        while self._chars > MAX_TRANSCRIPT_CHARS and len(self._lines) > 1:
            self._chars -= len(self._lines.popleft()) + 1
            self._dropped += 1

    def command(self, argv: Sequence[str]) -> None:
        self.add(f"$ {display(argv)}")

    def exited(self, code: int) -> None:
        self.add(f"[exit code {code}]")

    def sink(self, forward: LineSink, mask: LineMask) -> LineSink:
        """A sink that keeps each line (masked) here and passes it on."""

        def both(source: str, message: str, level: str) -> None:
            self.add(mask(message))
            forward(source, message, level)

        return both

    def text(self) -> str:
        head = f"[{self._dropped} earlier lines left out]\n" if self._dropped else ""
        return head + "\n".join(self._lines) + "\n"


def display(argv: Sequence[str]) -> str:
    """A command as a person reads it: `sh -c CMD` as CMD, anything else shell-quoted."""
    if len(argv) == 3 and argv[0] == "sh" and argv[1] == "-c":
        return argv[2]
    return shlex.join(argv)
