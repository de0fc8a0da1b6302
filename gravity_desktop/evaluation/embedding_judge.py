"""The offline embedding judge: facet fit and faithfulness from all-MiniLM-L6-v2 similarities.

- facet fit of a description for a reader = the weighted mean over the reader's clear facets
  (`rubric.py`, the judge's own wording) of cos(description, what the reader wants) -
  cos(description, its contrast). Subtracting the contrast removes what any book description
  shares with any statement about books; what is left is which way the text leans.
- faithfulness = cos(description, the book's synopsis): how much the text stays with what the
  book is about. It measures topical closeness, not factual accuracy (an invented name that stays
  on topic is not caught).
- the judge prefers, within an item, the description with the higher facet fit (hard pairwise
  preferences, ties 0.5).

The vectors come from a worker process (`embedding_worker.py`): torch never loads here.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gravity_desktop.errors import UserError
from gravity_desktop.evaluation.metrics import Verdict, preference_matrix
from gravity_desktop.evaluation.rubric import JudgedFacet, JudgeItem, reader_facets
from gravity_desktop.evaluation.state import Stopped
from gravity_desktop.llm.engine import CancelToken
from gravity_desktop.packs import NO_WINDOW, worker_command
from gravity_desktop.recommend.embeddings import MODEL_ID

NAME = f"embedding:{MODEL_ID}"


def embed_texts(
    texts: list[str],
    cancel: CancelToken | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Normalized vectors of the distinct texts, computed in the embedding worker.

    The worker is the project's Python from a checkout and the training pack's in an installed app
    (`packs.worker_command`, which raises the pack's download instructions when it is missing).
    """
    distinct = list(dict.fromkeys(texts))
    with tempfile.TemporaryDirectory(prefix="gravity-eval-") as tmp:
        source, target = Path(tmp) / "texts.json", Path(tmp) / "vectors.npy"
        source.write_text(json.dumps(distinct, ensure_ascii=False), encoding="utf-8")
        command = worker_command("gravity_desktop.evaluation.embedding_worker")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        process = subprocess.Popen(
            [*command, str(source), str(target)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            creationflags=NO_WINDOW,
        )
        assert process.stdout is not None
        for line in process.stdout:
            if cancel is not None and cancel.cancelled:
                process.terminate()
                process.wait()
                raise Stopped()
            event = json.loads(line)
            if progress is not None and event.get("event") == "progress":
                progress(event["done"], event["total"])
        _, errors = process.communicate()
        if cancel is not None and cancel.cancelled:  # Ctrl-C reached the worker too
            raise Stopped()
        if process.returncode != 0:
            last = (errors or "").strip().splitlines()[-1:] or ["no message"]
            hint = (
                " (install the training extra: make install-train)"
                if "No module" in last[0]
                else ""
            )
            raise UserError(f"the embedding judge failed: {last[0]}{hint}")
        vectors = np.load(target)
    return dict(zip(distinct, vectors, strict=True))


def facet_fit(
    vector: np.ndarray, facets: list[JudgedFacet], vectors: dict[str, np.ndarray]
) -> float:
    total = sum(f.weight for f in facets)
    if not total:
        return 0.0
    lean = sum(
        f.weight * float(vector @ vectors[f.wants] - vector @ vectors[f.contrast]) for f in facets
    )
    return lean / total


def judge(
    items: list[JudgeItem],
    cancel: CancelToken | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Verdict]:
    facets = [reader_facets(item.profile, item.book) for item in items]
    texts: list[str] = []
    for item, found in zip(items, facets, strict=True):
        texts += [*item.descriptions.values(), item.book.synopsis]
        texts += [text for f in found for text in (f.wants, f.contrast)]
    vectors = embed_texts(texts, cancel, progress)
    verdicts = []
    for item, found in zip(items, facets, strict=True):
        fit = {m: facet_fit(vectors[t], found, vectors) for m, t in item.descriptions.items()}
        synopsis = vectors[item.book.synopsis]
        faithful = {m: float(vectors[t] @ synopsis) for m, t in item.descriptions.items()}
        verdicts.append(
            Verdict(
                reader=item.reader,
                country=item.country,
                book=item.book.id,
                preference=preference_matrix(fit),
                faithfulness=faithful,
                fit=fit,
            )
        )
    return verdicts
