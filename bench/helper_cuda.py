"""One training job on the GPU helper, timed: 64 pairs x 1 epoch of DPO on the bundled model.

Starts `gravity-gpu-helper serve` on loopback (its own process group), sends the job through the
client the app uses, fetches and checks the adapter, and prints the wall time, each phase, and the
time per pair-epoch. Run it with `--device cuda` on a GPU machine and with `--device cpu` for the
comparison; it prints figures and asserts none.

It needs no data folder: `--gguf` names the base model (default: the bundled SmolLM2-135M Q4_1)
and `--pairs` a JSONL file of pairs in TRL's format (default: pairs built from the bundled catalog,
as `bench/train_speed.py` builds them). A persistent `--data-dir` keeps the prepared trainable base
between runs, so a second run times training without the one-off preparation.

    python bench/helper_cuda.py --device cuda --gguf SmolLM2-135M-Instruct.Q4_1.gguf
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runs from a plain checkout, installed or not

from gravity_desktop.cli import NUMBER_FORMATS  # noqa: E402
from gravity_desktop.llm.gguf_file import sha256_of  # noqa: E402
from gravity_desktop.training.config import PRECISIONS, TrainConfig  # noqa: E402
from gravity_desktop.training.helper_client import HelperClient, HelperError  # noqa: E402

SYSTEM = (  # the serving prompt's system message (gravity_desktop/gravity/prompts.py)
    "You write short book descriptions for a reading app. Use only the facts you are given; "
    "never invent names, places or events."
)


def catalog_pairs(count: int) -> list[dict[str, object]]:
    """A focused description against a flat one for each catalog book with a long synopsis."""
    books = []
    for file in sorted((ROOT / "resources" / "books").glob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            books += [b for b in data.get("books", []) if len(b.get("synopsis", "").split()) > 60]
    pairs = []
    for book in books[:count]:
        title, author, words = (
            book["title"].split(" (")[0],
            book["author"],
            book["synopsis"].split(),
        )
        year = f" ({book['year']})" if book.get("year") else ""
        ask = (
            f"Book: {book['title']} by {author}{year}.\nFacts: {book['synopsis']}\n\n"
            "Describe this book in 3 or 4 sentences."
        )
        chosen = (
            f"{title} by {author} draws the reader into {' '.join(words[:40])}. It is a book of"
            " ideas and imagination."
        )
        rejected = f"{title} by {author} is a book. {' '.join(words[40:70])}."
        pairs.append({
            "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ask}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        })  # fmt: skip
    if len(pairs) < count:
        sys.exit(f"the catalog gives only {len(pairs)} pairs; pass --pairs FILE")
    return pairs


def file_pairs(path: Path, count: int) -> list[dict[str, object]]:
    """Pairs from a JSONL file (`gravity pairs export`), without their metadata."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            record.pop("metadata", None)
            pairs.append(record)
    if len(pairs) < count:
        sys.exit(f"{path} holds {len(pairs)} pairs; {count} are needed")
    return pairs[:count]


def bundled_gguf() -> Path:
    from gravity_desktop.llm.registry import load_registry, pip_file

    entry = next(e for e in load_registry() if e.default)
    found = pip_file(entry.source.package, entry.source.file)
    if found is None:
        sys.exit("the bundled model is not installed here; pass --gguf PATH")
    return found


def start_helper(data_dir: Path, token: str, device: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token_file = data_dir / "bench-token"
    token_file.write_text(token + "\n", encoding="utf-8")
    search = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": search}
    process = subprocess.Popen(
        [sys.executable, "-m", "gravity_desktop.helper.cli", "serve", "--port", str(port),
         "--token-file", str(token_file), "--data-dir", str(data_dir), "--device", device],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gguf", type=Path, help="Base model GGUF (default: the bundled one).")
    parser.add_argument("--pairs", type=Path, help="Pairs JSONL (default: from the catalog).")
    parser.add_argument("--count", type=int, default=64, help="Pairs to train on.")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="auto", help="Number formats (TrainConfig)."
    )
    parser.add_argument("--data-dir", type=Path, help="The helper's folder (default: temporary).")
    args = parser.parse_args()

    gguf = (args.gguf or bundled_gguf()).resolve()
    pairs = file_pairs(args.pairs, args.count) if args.pairs else catalog_pairs(args.count)
    # The desktop's defaults otherwise: LoRA r=8, batch 2, max length 512.
    config = TrainConfig(epochs=args.epochs, precision=args.precision)
    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="gravity-helper-bench-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    digest = sha256_of(gguf)
    process, url = start_helper(data_dir, token, args.device)
    marks: dict[str, float] = {}
    facts: dict[str, object] = {}
    try:
        client = HelperClient(url, token)
        for _ in range(300):
            try:
                client.health()
                break
            except HelperError:
                if process.poll() is not None:
                    sys.exit("the helper did not start (see its output above)")
                time.sleep(0.2)
        started = time.perf_counter()

        def on_event(event: dict) -> None:
            kind = str(event.get("event"))
            marks.setdefault(kind, time.perf_counter() - started)
            if kind == "start":
                facts["device"] = event.get("gpu") or event.get("device")
                facts["precision"] = event.get("precision")
            elif kind == "done":
                facts["train_seconds"] = float(event["seconds"])
                facts["steps"] = event.get("steps")
                facts["peak_rss_mb"] = event.get("peak_rss_mb")

        job = client.submit(gguf, digest, config.as_json(), pairs, on_event)
        sha256 = client.follow(job, on_event)
        adapter = data_dir / "bench-adapter.gguf"
        client.download_adapter(job, sha256 or "", adapter)
        wall = time.perf_counter() - started
        client.delete(job)
        client.close()
    except HelperError as exc:
        sys.exit(f"helper_cuda: {exc}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=120)

    pair_epochs = args.count * args.epochs
    train = float(facts.get("train_seconds", 0.0))
    print(
        f"device: {facts.get('device')} (helper --device {args.device}),"
        f" {NUMBER_FORMATS.get(str(facts.get('precision')))},"
        f" worker peak RSS {facts.get('peak_rss_mb')} MB"
    )
    print(
        f"job: {args.count} pairs x {args.epochs} epoch(s), {facts.get('steps')} steps,"
        f" LoRA r={config.rank}, batch {config.batch_size}, max length {config.max_length}"
    )
    print(f"base model: {gguf.name} ({gguf.stat().st_size / 1e6:.0f} MB)")
    print(f"wall time, submit to checked adapter: {wall:.1f} s")
    print(f"  upload and job set-up: {marks.get('accepted', 0.0):.1f} s")
    preparing = marks.get("base_ready", 0.0) - marks.get("start", 0.0)
    print(f"  worker start to trainable base ready: {preparing:.1f} s")
    print(f"  training (worker's own figure, reference log-probs included): {train:.1f} s")
    print(f"  export, download and check: {wall - marks.get('done', wall):.1f} s")
    print(
        f"time per pair-epoch: {train / pair_epochs:.3f} s training,"
        f" {wall / pair_epochs:.3f} s wall"
    )


if __name__ == "__main__":
    main()
