"""Metrics over judged items, with bootstrap confidence intervals resampled by reader.

An *item* is one reader and one held-out book; a judge's verdict on it is a matrix of preference
probabilities P[a][b] (how strongly the judge prefers method a's description to method b's, with
P[a][b] + P[b][a] = 1). From it:

- judged preference of a method = the mean of P[method][other] over the other methods (0..1;
  0.5 = no better or worse than the rest on average);
- preference gain of GRAVITY over a baseline = (mean preference of GRAVITY - mean preference of
  the baseline) / mean preference of the baseline, in %;
- Top-1 win rate = share of items where the method has the highest judged preference (ties split);
- pairwise win rate of GRAVITY against a baseline = share of items with P[gravity][baseline] > 0.5
  (exactly 0.5 counts half).

Items of one reader are not independent (same profile, same adapters), so the bootstrap resamples
readers with replacement and recomputes each statistic on their items (percentile 95% interval).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_SAMPLES = 2000
TARGET = "gravity"


@dataclass(frozen=True)
class Verdict:
    """One judge on one item; `faithfulness` and `fit` only where the judge measures them."""

    reader: str
    country: str
    book: str
    preference: dict[str, dict[str, float]]
    faithfulness: dict[str, float] | None = None
    fit: dict[str, float] | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "reader": self.reader,
            "country": self.country,
            "book": self.book,
            "preference": self.preference,
            "faithfulness": self.faithfulness,
            "fit": self.fit,
        }

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        return cls(**data)


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float | None  # None: fewer than two readers, no interval
    high: float | None

    def as_json(self) -> dict[str, float | None]:
        def rounded(x: float | None) -> float | None:
            return None if x is None or np.isnan(x) else round(float(x), 4)

        return {"value": rounded(self.value), "low": rounded(self.low), "high": rounded(self.high)}


def preference_matrix(scores: dict[str, float]) -> dict[str, dict[str, float]]:
    """Hard pairwise preferences from one score per method (higher wins, equal is 0.5)."""
    return {
        a: {b: 0.5 if sa == sb else float(sa > sb) for b, sb in scores.items() if b != a}
        for a, sa in scores.items()
    }


def judged_preference(verdict: Verdict, method: str, methods: Sequence[str]) -> float:
    others = [m for m in methods if m != method]
    return float(np.mean([verdict.preference[method][m] for m in others]))


def top1_share(verdict: Verdict, method: str, methods: Sequence[str]) -> float:
    scores = {m: judged_preference(verdict, m, methods) for m in methods}
    best = max(scores.values())
    winners = [m for m, s in scores.items() if np.isclose(s, best)]
    return 1.0 / len(winners) if method in winners else 0.0


def pairwise_win(verdict: Verdict, method: str, other: str) -> float:
    p = verdict.preference[method][other]
    return 0.5 if np.isclose(p, 0.5) else float(p > 0.5)


def gain_percent(target: np.ndarray, baseline: np.ndarray) -> float:
    base = float(np.mean(baseline))
    return float("nan") if base == 0 else 100.0 * (float(np.mean(target)) - base) / base


def cluster_bootstrap(
    clusters: Sequence[str],
    statistic: Callable[[np.ndarray], float],
    seed: int,
    samples: int = BOOTSTRAP_SAMPLES,
) -> Estimate:
    """`statistic(indices)` on all items, and its 95% interval resampling clusters (readers).

    `clusters[i]` names the reader of item i.
    """
    labels = np.asarray(clusters)
    everything = np.arange(len(labels))
    value = statistic(everything)
    names = sorted(set(labels.tolist()))
    if len(names) < 2:
        return Estimate(value, None, None)
    members = [everything[labels == name] for name in names]
    rng = np.random.default_rng(seed)
    stats = np.empty(samples)
    for i in range(samples):
        drawn = rng.integers(0, len(members), size=len(members))
        stats[i] = statistic(np.concatenate([members[j] for j in drawn]))
    finite = stats[np.isfinite(stats)]
    if finite.size == 0:
        return Estimate(value, None, None)
    low, high = np.percentile(finite, [2.5, 97.5])
    return Estimate(value, float(low), float(high))


@dataclass(frozen=True)
class MethodScores:
    preference: np.ndarray
    top1: np.ndarray
    faithfulness: np.ndarray | None
    fit: np.ndarray | None


def per_item_scores(verdicts: Sequence[Verdict], methods: Sequence[str]) -> dict[str, MethodScores]:
    def column(values: list[float | None]) -> np.ndarray | None:
        return None if any(v is None for v in values) else np.asarray(values, dtype=float)

    table = {}
    for m in methods:
        table[m] = MethodScores(
            preference=np.asarray([judged_preference(v, m, methods) for v in verdicts]),
            top1=np.asarray([top1_share(v, m, methods) for v in verdicts]),
            faithfulness=column([v.faithfulness[m] if v.faithfulness else None for v in verdicts]),
            fit=column([v.fit[m] if v.fit else None for v in verdicts]),
        )
    return table


def summarize(verdicts: Sequence[Verdict], methods: Sequence[str], seed: int) -> dict[str, object]:
    """Every metric for one scope (all items, or one country's), as JSON-ready numbers."""
    if not verdicts:
        return {"items": 0, "readers": 0}
    clusters = [v.reader for v in verdicts]
    scores = per_item_scores(verdicts, methods)

    def mean_of(values: np.ndarray) -> Estimate:
        return cluster_bootstrap(clusters, lambda idx: float(np.mean(values[idx])), seed)

    per_method: dict[str, dict[str, object]] = {}
    for m in methods:
        entry = {
            "preference": mean_of(scores[m].preference).as_json(),
            "top1_win_rate": mean_of(scores[m].top1).as_json(),
        }
        if scores[m].faithfulness is not None:
            entry["faithfulness"] = mean_of(scores[m].faithfulness).as_json()
        if scores[m].fit is not None:
            entry["facet_fit"] = mean_of(scores[m].fit).as_json()
        per_method[m] = entry
    against: dict[str, dict[str, object]] = {}
    if TARGET in methods:
        target = scores[TARGET].preference
        for b in methods:
            if b == TARGET:
                continue
            base = scores[b].preference
            wins = np.asarray([pairwise_win(v, TARGET, b) for v in verdicts])
            against[b] = {
                "preference_gain_percent": cluster_bootstrap(
                    clusters, lambda idx, b=base: gain_percent(target[idx], b[idx]), seed
                ).as_json(),
                "pairwise_win_rate": mean_of(wins).as_json(),
            }
    return {
        "items": len(verdicts),
        "readers": len(set(clusters)),
        "methods": per_method,
        "gravity_vs": against,
    }
