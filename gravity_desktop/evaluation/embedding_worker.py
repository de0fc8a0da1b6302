"""Worker process: sentence embeddings of a list of texts, for the embedding judge.

Run as `python -m gravity_desktop.evaluation.embedding_worker TEXTS.json VECTORS.npy`. Reads a
JSON list of strings, writes their L2-normalized all-MiniLM-L6-v2 vectors (float32, one row per
text) and prints one JSON line per batch ({"event": "progress", "done": n, "total": m}). It
imports torch through sentence-transformers, so it never runs inside the CLI or the app process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BATCH = 32


def main(texts_file: str, vectors_file: str) -> None:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from gravity_desktop.recommend.embed_worker import model_dir

    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    model = SentenceTransformer(str(model_dir()), device="cpu")
    rows = []
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        rows.append(model.encode(batch, normalize_embeddings=True, convert_to_numpy=True))
        done = start + len(batch)
        print(json.dumps({"event": "progress", "done": done, "total": len(texts)}), flush=True)
    vectors = np.concatenate(rows).astype("float32") if rows else np.zeros((0, 0), "float32")
    partial = Path(vectors_file + ".partial.npy")
    np.save(partial, vectors)
    partial.replace(vectors_file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
