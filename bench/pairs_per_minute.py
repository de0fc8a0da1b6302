"""Pair synthesis throughput on the bundled model: pairs per minute after filtering, pass rate.

Runs `gravity pairs generate`'s core on a simulated reader in a throwaway data dir three times:
one generation per side without the name guard (the first baseline: a pair is dropped when either
text fails), retries of the failing side without the guard, and retries with the name guard (the
default: the teacher cannot start names the book's facts lack). Then it times the same teacher
requests with and without reuse of the book's evaluated prompt prefix. Figures per CPU-minute are
given beside wall-clock ones because the machines these run on are shared.
Target (issue 5): at least 30 filtered pairs per minute.
Run: .venv/bin/python bench/pairs_per_minute.py [--books 4] [--scenarios 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("GRAVITY_HOME", tempfile.mkdtemp(prefix="gravity-bench-"))

from gravity_desktop.app_context import opened
from gravity_desktop.gravity import prompts, synthesis
from gravity_desktop.gravity.name_guard import NameGuard
from gravity_desktop.gravity.synthesis import (
    SynthesisRequest,
    choose_books,
    plan_units,
    synthesize,
)
from gravity_desktop.llm.engine import GenerationSettings
from gravity_desktop.llm.serving import load_teacher
from gravity_desktop.profile.answers import parse_answers
from gravity_desktop.profile.instruments import load_questionnaire
from gravity_desktop.profile.service import onboard


def reader_answers() -> dict:
    """A reader with clear poles: open, caring, universalist, group-oriented, secular."""
    high = {"O", "A", "benevolence", "universalism", "traditional_secular"}
    low = {"N", "IDV", "power"}
    answers = {}
    for item in load_questionnaire().items:
        agree = item.facet in high
        disagree = item.facet in low
        if agree or disagree:
            answers[item.id] = item.scale.max if (item.keyed == 1) == agree else item.scale.min
        else:
            answers[item.id] = (item.scale.min + item.scale.max) // 2
    return {
        "country": "BR",
        "answers": answers,
        "about": {"languages": ["pt", "en"]},
        "interests": {"genres": ["literary fiction", "magical realism"], "themes": ["family"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--books", type=int, default=4)
    parser.add_argument("--scenarios", type=int, default=4)
    args = parser.parse_args()
    with opened() as ctx:
        profile = onboard(ctx.conn, parse_answers(reader_answers()))
        teacher_id, engine = load_teacher(ctx)
        print(f"machine: {os.cpu_count()} cpus; teacher {teacher_id}")
        results = {}
        runs = (("1 try, no guard", 1, False), ("3 tries, no guard", 3, False),
                ("3 tries, name guard", 3, True))  # fmt: skip
        for label, tries, guarded in runs:
            synthesis.NameGuard = NameGuard if guarded else (lambda engine, book: None)
            request = SynthesisRequest("gravity", args.books, args.scenarios, 11, tries)
            cpu = time.process_time()
            report = synthesize(ctx.conn, engine, teacher_id, profile, request)
            cpu = time.process_time() - cpu
            per_cpu_minute = 60 * report.kept / cpu if cpu else 0.0
            results[label] = (report.pairs_per_minute, per_cpu_minute)
            print(
                f"{label}: units {report.total_units}, kept {report.kept}"
                f" ({report.pass_rate:.0%} of units), {report.generations} texts written,"
                f" {report.seconds:.0f} s wall, {cpu:.0f} s CPU"
            )
            print(
                f"  pairs per minute after filtering: {report.pairs_per_minute:.1f} wall,"
                f" {per_cpu_minute:.1f} per CPU-minute (target >= 30)"
            )
            for reason, count in report.reasons.items():
                print(f"  rejected {count:3}: {reason}")
        base = results[runs[0][0]]
        for label, _, _ in runs[1:]:
            print(
                f"{label} vs {runs[0][0]}: {results[label][0] / max(base[0], 1e-9):.2f}x pairs"
                f" per wall minute, {results[label][1] / max(base[1], 1e-9):.2f}x per CPU minute"
            )

        books = choose_books(ctx.conn, profile, 2, seed=11)
        units = plan_units("gravity", profile, books, 3, seed=11)
        requests = [
            prompts.chosen_messages(u.book, u.scenario.bring_forward, u.scenario.put_off)
            for u in units
        ]
        timings = {}
        for reuse in (False, True):
            settings = GenerationSettings(
                max_tokens=100, temperature=0.7, seed=1, reuse_prompt_cache=reuse
            )
            engine._llama.reset()
            started = time.perf_counter()
            for messages in requests:
                engine.chat(messages, settings)
            timings[reuse] = (time.perf_counter() - started) / len(requests)
        print(
            f"teacher request, fresh prompt: {timings[False]:.2f} s; with the book's prefix"
            f" reused: {timings[True]:.2f} s; ratio {timings[True] / timings[False]:.2f}x"
        )
        engine.close()


if __name__ == "__main__":
    main()
