"""The LLM judge: a registry model compares two descriptions for a reader, in both orders.

The judge reads the reader's own statements (`rubric.py`), the book's title and two descriptions
labelled A and B, and is asked which one this reader would rather read. Its answer is not
sampled: the probability of "A" against "B" as the next token comes from the model's
log-probabilities (`Engine.completion_logprobs`). Every pair is asked twice with the order
swapped, and the two answers are averaged, which cancels a preference for whichever text comes
first; that position bias is measured and reported.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Protocol

from gravity_desktop.evaluation.metrics import Verdict
from gravity_desktop.evaluation.rubric import JudgeItem, reader_facets, reader_statement
from gravity_desktop.llm.engine import Message

SYSTEM = (
    "You help one particular reader choose between two descriptions of the same book. Judge only"
    " which description this reader would rather read."
)
LABELS = ("A", "B")


class Scorer(Protocol):
    def completion_logprobs(
        self, messages: Sequence[Message], completions: Sequence[str]
    ) -> list[list[float]]: ...


def comparison_messages(statement: str, title: str, first: str, second: str) -> list[Message]:
    return [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": f"What the reader says about themselves: {statement}\n\n"
            f"The book: {title}\n\n"
            f"Description A:\n{first}\n\n"
            f"Description B:\n{second}\n\n"
            "Which description would this reader prefer? Answer with one letter, A or B.",
        },
    ]


class LlmJudge:
    def __init__(self, engine: Scorer, model_id: str) -> None:
        self.engine = engine  # built with scoring=True
        self.name = f"llm:{model_id}"

    def first_preferred(self, messages: list[Message]) -> float:
        """Probability that the answer is "A" rather than "B"."""
        a, b = (sum(lp) for lp in self.engine.completion_logprobs(messages, list(LABELS)))
        return 1.0 / (1.0 + math.exp(b - a))

    def judge(self, item: JudgeItem, methods: Sequence[str]) -> tuple[Verdict, list[float]]:
        """The item's verdict, and P("A") of every question asked (for the position bias)."""
        statement = reader_statement(reader_facets(item.profile, item.book))
        title = f"{item.book.title} by {item.book.author}"
        texts = item.descriptions
        preference: dict[str, dict[str, float]] = {m: {} for m in methods}
        asked: list[float] = []
        for one, other in itertools.combinations(methods, 2):
            forward = self.first_preferred(
                comparison_messages(statement, title, texts[one], texts[other])
            )
            backward = self.first_preferred(
                comparison_messages(statement, title, texts[other], texts[one])
            )
            asked += [forward, backward]
            p = (forward + (1.0 - backward)) / 2
            preference[one][other], preference[other][one] = p, 1.0 - p
        verdict = Verdict(item.reader, item.country, item.book.id, preference)
        return verdict, asked
