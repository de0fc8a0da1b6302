"""The DPO trainer the worker runs (imported in the worker only).

TRL's DPOTrainer with two changes: the reference log-probabilities kept between runs
(`reference_cache`), and a training order that puts the pairs of one prompt next to each other,
so that a batch of them runs its prompt once (`shared_prompt`). Synthesis writes several scenarios
per book, all under the book's one serving prompt; in TRL's random order two pairs of one book
rarely meet in a batch.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from gravity_desktop.training.reference_cache import CachedReferenceDPOTrainer


class WorkerDPOTrainer(CachedReferenceDPOTrainer):
    def _get_train_sampler(self, train_dataset: Any = None) -> PromptGroupedSampler:
        dataset = self.train_dataset if train_dataset is None else train_dataset
        return PromptGroupedSampler([tuple(ids) for ids in dataset["prompt_ids"]], self.args.seed)


class PromptGroupedSampler:
    """Pair indices, the pairs of one prompt next to each other.

    Each epoch shuffles the prompts and, within each prompt, its pairs, from `seed` and the epoch
    (the Trainer calls `set_epoch`), so a resumed run replays the same order. Batches still mix
    books where a book's pairs do not fill them, and the books follow each other at random.
    """

    def __init__(self, prompts: list[tuple[int, ...]], seed: int) -> None:
        self.prompts = prompts
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.prompts)

    def __iter__(self) -> Iterator[int]:
        shuffle = random.Random(self.seed * 1_000_003 + self.epoch)
        by_prompt: dict[tuple[int, ...], list[int]] = {}
        for index, prompt in enumerate(self.prompts):
            by_prompt.setdefault(prompt, []).append(index)
        groups = list(by_prompt.values())
        shuffle.shuffle(groups)
        for group in groups:
            shuffle.shuffle(group)
            yield from group
