"""Pair synthesis throughput on the bundled model: pairs per minute after filtering, pass rate.

Runs `gravity pairs generate`'s core on a simulated reader in a throwaway data dir, on the same
plan each time:
- the defaults (3 tries per side, the name guard, 8 texts written side by side) against the same
  with one text at a time, first and last, so that a machine whose speed drifts (these are
  shared) shows up as a gap between the two baseline runs;
- one try per side without the name guard (the first version: a pair is dropped when either
  text fails), and retries without the guard.
With --formats it compares number formats instead: the teacher's Q8_0 copy (llm/batch_weights.py,
what synthesis uses) between two runs on the model's own Q4_1 file.
Figures per CPU-minute are given beside wall-clock ones, and seconds per text written, which the
pass rate (how many texts a kept pair cost) does not sway.
Target (issue 5): at least 30 filtered pairs per minute.
Run: .venv/bin/python bench/pairs_per_minute.py [--books 8] [--scenarios 4] [--formats]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

os.environ.setdefault("GRAVITY_HOME", tempfile.mkdtemp(prefix="gravity-bench-"))

from gravity_desktop.app_context import opened
from gravity_desktop.gravity import synthesis
from gravity_desktop.gravity.name_guard import NameGuard
from gravity_desktop.gravity.synthesis import SynthesisRequest, synthesize
from gravity_desktop.llm.engine import Engine
from gravity_desktop.llm.registry import find_model, require_file
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
    parser.add_argument("--books", type=int, default=8)
    parser.add_argument("--scenarios", type=int, default=4)
    parser.add_argument("--formats", action="store_true")
    args = parser.parse_args()
    with opened() as ctx:
        profile = onboard(ctx.conn, parse_answers(reader_answers()))
        teacher_id, engine = load_teacher(ctx)
        print(f"machine: {os.cpu_count()} cpus; teacher {teacher_id} ({engine.model_info.path})")
        if args.formats:
            source = require_file(find_model(ctx.paths, ctx.conn, teacher_id))
            baseline = Engine(source, n_ctx=engine.n_ctx)
            own = f"the model's own file ({source.name})"
            runs = ((own, 3, True, baseline),
                    ("the teacher's Q8_0 copy", 3, True, engine),
                    (f"{own}, again", 3, True, baseline))  # fmt: skip
        else:
            baseline = Engine(engine.model_info.path, n_ctx=engine.n_ctx, parallel=1)
            runs = (("one text at a time", 3, True, baseline),
                    ("defaults: name guard, 3 tries, 8 side by side", 3, True, engine),
                    ("1 try, no guard", 1, False, engine),
                    ("3 tries, no guard", 3, False, engine),
                    ("one text at a time, again", 3, True, baseline))  # fmt: skip
        results = {}
        for label, tries, guarded, teacher in runs:
            synthesis.NameGuard = NameGuard if guarded else (lambda engine, book: None)
            request = SynthesisRequest("gravity", args.books, args.scenarios, 11, tries)
            cpu = time.process_time()
            asked, evaluated = dataclasses.astuple(teacher.batch_prompt_tokens)
            report = synthesize(ctx.conn, teacher, teacher_id, profile, request)
            cpu = time.process_time() - cpu
            asked = teacher.batch_prompt_tokens.asked - asked
            evaluated = teacher.batch_prompt_tokens.evaluated - evaluated
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
            print(
                f"  {report.seconds / max(report.generations, 1):.2f} s per text written;"
                f" prompt tokens: {asked} asked, {evaluated} evaluated, the rest shared"
            )
            for reason, count in report.reasons.items():
                print(f"  rejected {count:3}: {reason}")
        base = [results[runs[0][0]], results[runs[-1][0]]]
        base_wall = sum(b[0] for b in base) / 2
        base_cpu = sum(b[1] for b in base) / 2
        for label, *_ in runs[1:-1]:
            print(
                f"{label} vs {runs[0][0]} (mean of both runs):"
                f" {results[label][0] / max(base_wall, 1e-9):.2f}x pairs per wall minute,"
                f" {results[label][1] / max(base_cpu, 1e-9):.2f}x per CPU minute"
            )
        baseline.close()
        engine.close()


if __name__ == "__main__":
    main()
