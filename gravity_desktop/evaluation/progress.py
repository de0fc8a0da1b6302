"""Progress of an evaluation run and an estimate of the time left for all of it.

The estimate multiplies the work still to do of each kind (synthesis units, adapters, descriptions,
judge comparisons, the embedding pass) by the seconds one unit of that kind took in this run, or a
prior measured on a 2-core CPU with the bundled model until a unit of the kind has finished.
Synthesis is driven by a target number of kept pairs, so its remaining units are the missing pairs
over the pass rate seen so far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Seconds per unit on this project's 2-core machine with SmolLM2-135M (docs/evaluation.md).
PRIOR_SECONDS = {
    "synthesis": 4.5,  # one scenario: a chosen and a rejected text
    "training": 75.0,  # one adapter: worker start, a few steps, export, held-out check
    "description": 2.5,
    "comparison": 0.6,  # one LLM-judge question
    "embedding": 45.0,  # the whole embedding pass (worker start dominates)
}
PRIOR_PASS_RATE = 0.12  # share of synthesized candidates the filters keep


@dataclass(frozen=True)
class EvalProgress:
    stage: str
    done: int
    total: int
    detail: str
    eta_seconds: float | None  # for the whole run


class Tracker:
    """Remembers unit costs and what is left, and reports progress with the run's ETA."""

    def __init__(self, callback: Callable[[EvalProgress], None] | None) -> None:
        self.callback = callback
        self.left: dict[str, float] = dict.fromkeys(PRIOR_SECONDS, 0.0)
        self._spent: dict[str, tuple[float, int]] = {}

    def cost(self, kind: str) -> float:
        seconds, units = self._spent.get(kind, (0.0, 0))
        return seconds / units if units else PRIOR_SECONDS[kind]

    def spent(self, kind: str, seconds: float, units: int = 1) -> None:
        total, count = self._spent.get(kind, (0.0, 0))
        self._spent[kind] = (total + seconds, count + units)
        self.left[kind] = max(0.0, self.left[kind] - units)

    def skipped(self, kind: str, units: int = 1) -> None:
        """Work that turned out not to be needed (it says nothing about the cost of a unit)."""
        self.left[kind] = max(0.0, self.left[kind] - units)

    def eta(self) -> float:
        return sum(units * self.cost(kind) for kind, units in self.left.items())

    def report(self, stage: str, done: int, total: int, detail: str = "") -> None:
        if self.callback is not None:
            self.callback(EvalProgress(stage, done, total, detail, self.eta()))


def synthesis_units_left(missing_pairs: int, kept: int, tried: int, units_cap_left: int) -> float:
    """Units still needed for `missing_pairs`, at the pass rate seen so far (capped)."""
    rate = kept / tried if tried and kept else PRIOR_PASS_RATE
    return min(missing_pairs / rate, units_cap_left) if missing_pairs > 0 else 0.0


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def progress_line(progress: EvalProgress) -> str:
    """One line for a terminal: stage, count, detail and the time left for the whole run."""
    line = f"[{progress.stage} {progress.done}/{progress.total}]"
    if progress.detail:
        line += f" {progress.detail}"
    if progress.eta_seconds is not None:
        line += f" — about {duration(progress.eta_seconds)} left in all"
    return line
