"""DPO rewards on held-out pairs, measured through llama.cpp (what the app will actually serve).

For a pair, the implicit DPO reward margin of a policy over the reference is
β · [(log π(chosen) - log π_ref(chosen)) - (log π(rejected) - log π_ref(rejected))], with π the base
plus adapter and π_ref the base alone. Reward accuracy is the share of pairs with a positive margin.
"""

from __future__ import annotations

from dataclasses import dataclass

from gravity_desktop.llm.engine import Engine
from gravity_desktop.store.pairs import Pair


@dataclass(frozen=True)
class HeldoutScore:
    pairs: int
    accuracy: float
    margin: float  # mean β-scaled reward margin


def pair_logprobs(engine: Engine, pair: Pair) -> tuple[float, float]:
    """Summed log-probabilities of the chosen and the rejected text (prompt evaluated once)."""
    chosen, rejected = engine.completion_logprobs(pair.prompt, [pair.chosen, pair.rejected])
    return sum(chosen), sum(rejected)


def reference_logprobs(base: Engine, pairs: list[Pair]) -> list[tuple[float, float]]:
    return [pair_logprobs(base, pair) for pair in pairs]


def heldout_score(
    policy: Engine, pairs: list[Pair], reference: list[tuple[float, float]], beta: float
) -> HeldoutScore:
    margins = []
    for pair, (ref_chosen, ref_rejected) in zip(pairs, reference, strict=True):
        chosen, rejected = pair_logprobs(policy, pair)
        margins.append(beta * ((chosen - ref_chosen) - (rejected - ref_rejected)))
    if not margins:
        return HeldoutScore(0, 0.0, 0.0)
    return HeldoutScore(
        pairs=len(margins),
        accuracy=sum(1 for m in margins if m > 0) / len(margins),
        margin=sum(margins) / len(margins),
    )
