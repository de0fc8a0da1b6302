"""Engine overhead against raw llama-cpp-python: same model, prompt and settings, alternating.

Prints load time, time to first token, tokens/s and peak RSS for each, and the engine/raw ratios.
Targets (issue 2): engine >= 0.95x raw throughput, time to first token within 1.1x.
Run: .venv/bin/python bench/engine_vs_raw.py [--rounds N] [--max-tokens N]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

from llama_cpp import Llama

from gravity_desktop.llm.engine import Engine, GenerationSettings
from gravity_desktop.llm.registry import load_registry, pip_file

MESSAGES = [{"role": "user", "content": "Describe the book Dune in two sentences."}]


def rss_mb() -> float:
    """Current resident set size of this process (Linux; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(stream) -> tuple[float, float, int]:
    """(seconds to first piece, total seconds, pieces) for an iterator of text pieces."""
    started = time.perf_counter()
    first = 0.0
    count = 0
    for _ in stream:
        if count == 0:
            first = time.perf_counter() - started
        count += 1
    return first, time.perf_counter() - started, count


def raw_stream(llama: Llama, settings: GenerationSettings):
    for chunk in llama.create_chat_completion(
        messages=MESSAGES,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        seed=settings.seed,
        stream=True,
    ):
        piece = chunk["choices"][0]["delta"].get("content")
        if piece:
            yield piece


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    entry = next(e for e in load_registry() if e.default)
    path = pip_file(entry.source.package, entry.source.file)
    settings = GenerationSettings(max_tokens=args.max_tokens, temperature=0.7, seed=1)

    before = rss_mb()
    started = time.perf_counter()
    raw = Llama(
        model_path=str(path),
        n_ctx=2048,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    raw_load = time.perf_counter() - started
    raw_rss = rss_mb() - before
    before = rss_mb()
    engine = Engine(path, n_ctx=2048, n_threads=args.threads)
    engine_rss = rss_mb() - before

    results: dict[str, list[tuple[float, float, int]]] = {"raw": [], "engine": []}
    measure(raw_stream(raw, settings))  # warm-up, not counted
    measure(engine.stream_chat(MESSAGES, settings))
    for round_ in range(args.rounds):
        order = ["raw", "engine"] if round_ % 2 == 0 else ["engine", "raw"]
        for name in order:
            seed_settings = GenerationSettings(
                max_tokens=args.max_tokens, temperature=0.7, seed=100 + round_
            )
            if name == "raw":
                raw.reset()  # no prefix reuse: every round pays for the prompt
                results[name].append(measure(raw_stream(raw, seed_settings)))
            else:
                engine._llama.reset()
                results[name].append(measure(engine.stream_chat(MESSAGES, seed_settings)))

    def summary(name: str) -> tuple[float, float]:
        """Median time to first token; decode throughput after the first token."""
        rows = results[name]
        ttft = statistics.median(r[0] for r in rows)
        tps = sum(r[2] - 1 for r in rows) / sum(r[1] - r[0] for r in rows)
        return ttft, tps

    raw_ttft, raw_tps = summary("raw")
    eng_ttft, eng_tps = summary("engine")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus,"
        f" {args.threads} threads; model {path.name}"
    )
    print(f"rounds: {args.rounds} alternating, max_tokens {args.max_tokens}")
    print(f"load time        raw {raw_load:7.3f} s   engine {engine.load_seconds:7.3f} s")
    print(
        f"first token      raw {raw_ttft * 1000:7.1f} ms  engine {eng_ttft * 1000:7.1f} ms"
        f"  ratio {eng_ttft / raw_ttft:5.2f}x (target <= 1.10x)"
    )
    print(
        f"decode speed     raw {raw_tps:7.1f} tok/s engine {eng_tps:7.1f} tok/s"
        f"  ratio {eng_tps / raw_tps:5.2f}x (target >= 0.95x)"
    )
    print(f"RSS added by load raw {raw_rss:7.0f} MB    engine {engine_rss:7.0f} MB")
    print(f"peak RSS of the process (both loaded): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
