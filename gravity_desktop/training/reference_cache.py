"""Reference log-probabilities kept between training runs (imported in the worker only).

DPO measures the policy against the reference (the base model without the adapter) on every pair.
The worker has TRL compute the reference's log-probabilities of each pair's two texts once, before
training: one forward pass per pair, about a fifth of a CPU run on the bundled model. They depend
only on the base weights, the number format, the device and the pair's tokens, and a reader
retrains on much the same pairs (a thumbs adds one), so they are kept beside the trainable base,
one file per number format and device, and only pairs not seen before are computed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trl
from trl import DPOTrainer

PREFIX = "reference-logps"
ID_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")


def cache_file(base: Path, number_format: str, device: str) -> Path:
    """Where the reference log-probabilities of `base`, a trainable base prepared from a GGUF
    (whose folder is named after the file's sha256), are kept."""
    return base / f"{PREFIX}-{number_format}-{device}.json"


class CachedReferenceDPOTrainer(DPOTrainer):
    """TRL's DPOTrainer, with `precompute_ref_log_probs` served from `reference_cache` where it
    can; `on_reference(pairs, known)` hears how many pairs there are and how many were known.
    Without a cache file (None) every pair is computed. Either way the pairs are computed in
    prompt order."""

    def __init__(
        self,
        *args: Any,
        reference_cache: Path | None,
        on_reference: Callable[[int, int], None],
        **kwargs: Any,
    ) -> None:
        # Set before TRL's constructor, which computes the reference log-probabilities.
        self._reference_cache = reference_cache
        self._on_reference = on_reference
        super().__init__(*args, **kwargs)

    def _precompute_ref_logps(self, dataset: Any, name: str, batch_size: int) -> Any:
        # Kept in a file only where there is one and a single process (ranks would race on it).
        keep = self._reference_cache is not None and self.accelerator.num_processes == 1
        known = _load(self._reference_cache) if keep else {}
        keys = [self._pair_key(row) for row in dataset.select_columns(list(ID_COLUMNS))]
        missing = [i for i, key in enumerate(keys) if key not in known]
        self._on_reference(len(keys), len(keys) - len(missing))
        # Pairs of one prompt side by side, so that a batch runs their prompt once (shared_prompt).
        prompts = dataset["prompt_ids"]
        missing.sort(key=lambda i: prompts[i])
        if missing:
            computed = super()._precompute_ref_logps(dataset.select(missing), name, batch_size)
            chosen, rejected = computed["ref_chosen_logps"], computed["ref_rejected_logps"]
            for i, c, r in zip(missing, chosen, rejected, strict=True):
                known[keys[i]] = [float(c), float(r)]
            if keep:
                _save(self._reference_cache, known)
        return dataset.add_column("ref_chosen_logps", [known[key][0] for key in keys]).add_column(
            "ref_rejected_logps", [known[key][1] for key in keys]
        )

    def _pair_key(self, row: dict[str, list[int]]) -> str:
        """The pair's tokens and what else shapes its reference log-probabilities here."""
        settings = [trl.__version__, self.args.max_length, self.ld_alpha]
        text = json.dumps([settings, *(row[column] for column in ID_COLUMNS)])
        return hashlib.sha256(text.encode()).hexdigest()


def _load(path: Path) -> dict[str, list[float]]:
    """The kept values; none where the file is missing or unreadable (they are computed again)."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(values, dict):
        return {}
    return {
        key: pair
        for key, pair in values.items()
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, float) for v in pair)
    }


def _save(path: Path, values: dict[str, list[float]]) -> None:
    """Written whole under another name, then renamed: a killed worker leaves the old file."""
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(json.dumps(values), encoding="utf-8")
        os.replace(partial, path)
    except OSError:  # a full disk: this run trains all the same, the next computes them again
        partial.unlink(missing_ok=True)
