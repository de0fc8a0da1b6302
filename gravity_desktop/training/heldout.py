"""DPO rewards on held-out pairs, measured through llama.cpp (what the app will actually serve).

For a pair, the implicit DPO reward margin of a policy over the reference is
β · [(log π(chosen) - log π_ref(chosen)) - (log π(rejected) - log π_ref(rejected))], with π the base
plus adapter and π_ref the base alone. Reward accuracy is the share of pairs with a positive margin.

Scoring a pair evaluates its whole prompt (the book's facts) and both texts: about a second per pair
and model on the bundled model, on two cores. A training run scores the base, the new adapter and
the active one, so the log-probabilities are kept (`KeptLogprobs`): the held-out split is stable
(training/job.py), and the next run needs the base's and, for the adapter it now compares with, the
ones computed in this run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gravity_desktop.llm.engine import Engine
from gravity_desktop.store.pairs import Pair

Logprobs = tuple[float, float]  # summed over the chosen text, over the rejected text


@dataclass(frozen=True)
class HeldoutScore:
    pairs: int
    accuracy: float
    margin: float  # mean β-scaled reward margin


def pair_logprobs(engine: Engine, pair: Pair) -> Logprobs:
    """Summed log-probabilities of the chosen and the rejected text (prompt evaluated once)."""
    chosen, rejected = engine.completion_logprobs(pair.prompt, [pair.chosen, pair.rejected])
    return sum(chosen), sum(rejected)


def pair_digest(pair: Pair) -> str:
    """The pair's texts, not its id: an edited or re-imported pair is scored afresh."""
    texts = json.dumps([pair.prompt, pair.chosen, pair.rejected], ensure_ascii=False)
    return hashlib.sha256(texts.encode()).hexdigest()[:24]


KEPT_SUFFIX = ".heldout-logprobs.json"


def kept_scores_file(folder: Path, base_sha256: str) -> Path:
    """Where a base model's held-out scores are kept: beside its scoring weights."""
    return folder / f"{base_sha256[:16]}{KEPT_SUFFIX}"


class KeptLogprobs:
    """Log-probabilities of held-out pairs by model (weights file and adapter) and pair texts.

    A file that cannot be read is treated as empty: it only saves time. `save` keeps only the
    scores asked for since loading, so the file holds one run's scores, not every run's.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._kept: dict[str, dict[str, list[float]]] = {}
        self._used: dict[str, list[str]] = {}
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self._kept = {k: v for k, v in loaded.items() if isinstance(v, dict)}
        except (OSError, ValueError):
            pass

    def scores(
        self, model: str, pairs: list[Pair], open_engine: Callable[[], Engine]
    ) -> list[Logprobs]:
        """Each pair's log-probabilities under `model`, opening the engine only for pairs not
        kept."""
        kept = self._kept.setdefault(model, {})
        keys = [pair_digest(pair) for pair in pairs]
        self._used.setdefault(model, []).extend(keys)
        engine: Engine | None = None
        try:
            missing = [
                (key, pair)
                for key, pair in zip(keys, pairs, strict=True)
                if not _two_numbers(kept.get(key))
            ]
            # Pairs of one book side by side: the engine keeps their prompt evaluated.
            for key, pair in sorted(missing, key=lambda item: json.dumps(item[1].prompt)):
                engine = engine or open_engine()
                kept[key] = list(pair_logprobs(engine, pair))
            return [(float(kept[key][0]), float(kept[key][1])) for key in keys]
        finally:
            if engine is not None:
                engine.close()

    def save(self) -> None:
        """Write atomically; a full disk or a read-only data dir only loses the time saved."""
        data = {
            model: {key: self._kept[model][key] for key in keys}
            for model, keys in self._used.items()
        }
        partial = self.path.with_name(self.path.name + ".partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(data), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError:
            partial.unlink(missing_ok=True)


def _two_numbers(value: object) -> bool:
    """A kept entry as `save` writes it (a damaged file may hold anything)."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def heldout_score(policy: list[Logprobs], reference: list[Logprobs], beta: float) -> HeldoutScore:
    margins = [
        beta * ((chosen - ref_chosen) - (rejected - ref_rejected))
        for (chosen, rejected), (ref_chosen, ref_rejected) in zip(policy, reference, strict=True)
    ]
    if not margins:
        return HeldoutScore(0, 0.0, 0.0)
    return HeldoutScore(
        pairs=len(margins),
        accuracy=sum(1 for m in margins if m > 0) / len(margins),
        margin=sum(margins) / len(margins),
    )
