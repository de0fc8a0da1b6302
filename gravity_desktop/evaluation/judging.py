"""Stage 5: the judges' verdicts on every item (a reader, a book, every method's description).

The embedding judge runs once over all pending items (one worker process); the LLM judges item by
item, each verdict recorded as it comes. A trained method that could not be trained for some
group is left out of the comparison (`left_out`), and the report says so.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from gravity_desktop.errors import UserError
from gravity_desktop.evaluation import embedding_judge, groups
from gravity_desktop.evaluation.description_stage import description_texts
from gravity_desktop.evaluation.llm_judge import LlmJudge
from gravity_desktop.evaluation.metrics import Verdict
from gravity_desktop.evaluation.options import LlmJudgeModel
from gravity_desktop.evaluation.readers import stored_profile
from gravity_desktop.evaluation.rubric import JudgeItem
from gravity_desktop.llm.engine import Engine

if TYPE_CHECKING:
    from gravity_desktop.evaluation.runner import Evaluation


def left_out(ev: Evaluation) -> dict[str, str]:
    """Trained methods missing an adapter for some group, with the reason, e.g. too few pairs.

    Such a method is left out of the comparison for every reader, so that the methods compared
    are compared on the same items.
    """
    missing: dict[str, str] = {}
    for group, method in groups.adapters_to_train(ev.options.methods, ev.groups):
        trained = ev.state.get(f"train:{group.name}:{method}")
        if "adapter" not in trained:
            missing.setdefault(method, f"no adapter for {group.name}: {trained['skipped']}")
    return missing


def judged_methods(ev: Evaluation) -> list[str]:
    methods = [m for m in ev.options.methods if m not in left_out(ev)]
    if len(methods) < 2:
        reasons = "; ".join(f"{m}: {why}" for m, why in left_out(ev).items())
        raise UserError(f"fewer than two methods are left to compare ({reasons})")
    return methods


def complete_items(ev: Evaluation) -> tuple[list[tuple[str, JudgeItem]], int]:
    """(unit key suffix, item) for every complete item, and how many items are incomplete."""
    methods = judged_methods(ev)
    complete, missing = [], 0
    for reader in ev.readers:
        with ev.store(ev.reader_root(reader.id)) as ctx:
            profile = stored_profile(ctx)
        for index, book_id in enumerate(ev.held_out_books(reader.id)):
            texts = description_texts(ev, reader.id, index, methods)
            if texts is None:
                missing += 1
                continue
            item = JudgeItem(reader.id, reader.country, ev.books[book_id], profile, texts)
            complete.append((f"{reader.id}:#{index}", item))
    return complete, missing


def judge_names(ev: Evaluation) -> list[str]:
    names = [embedding_judge.NAME] if ev.use_embedding else []
    return names + [j.name for j in ev.llm_judges]


def judge_items(ev: Evaluation) -> dict[str, list[Verdict]]:
    items, _ = complete_items(ev)
    if ev.use_embedding:
        _judge_embedding(ev, items)
    for model in ev.llm_judges:
        _judge_llm(ev, model, items)
    return {
        name: [
            Verdict.from_json(ev.state.get(f"judge:{name}:{suffix}")["verdict"])
            for suffix, _ in items
        ]
        for name in judge_names(ev)
    }


def _judge_embedding(ev: Evaluation, items: list[tuple[str, JudgeItem]]) -> None:
    name = embedding_judge.NAME
    todo = [(s, i) for s, i in items if not ev.state.done(f"judge:{name}:{s}")]
    if not todo:
        return
    ev.check_cancel()

    def show(done: int, total: int) -> None:
        ev.tracker.report(f"judge {name}", done, total, "embedding texts")

    started = time.perf_counter()
    verdicts = embedding_judge.judge([i for _, i in todo], ev.cancel, show)
    seconds = time.perf_counter() - started
    ev.tracker.spent("embedding", seconds)
    ev.state.record_many(
        {
            f"judge:{name}:{suffix}": {
                "verdict": verdict.as_json(),
                "seconds": round(seconds / len(todo), 3),
            }
            for (suffix, _), verdict in zip(todo, verdicts, strict=True)
        }
    )


def _judge_llm(ev: Evaluation, model: LlmJudgeModel, items: list[tuple[str, JudgeItem]]) -> None:
    todo = [(s, i) for s, i in items if not ev.state.done(f"judge:{model.name}:{s}")]
    if not todo:
        return
    ev.check_cancel()
    engine = Engine(
        model.path,
        chat_format=model.chat_format,
        n_ctx=1024,
        n_threads=ev.threads,
        scoring=True,
        name=model.model_id,
    )
    judge = LlmJudge(engine, model.model_id)
    compared = len(judged_methods(ev))
    questions = compared * (compared - 1)
    try:
        for position, (suffix, item) in enumerate(todo):
            ev.check_cancel()
            started = time.perf_counter()
            verdict, asked = judge.judge(item, list(item.descriptions))
            seconds = time.perf_counter() - started
            ev.tracker.spent("comparison", seconds, questions)
            ev.state.record(
                f"judge:{model.name}:{suffix}",
                {
                    "verdict": verdict.as_json(),
                    "first_preferred": [round(p, 4) for p in asked],
                    "seconds": round(seconds, 2),
                },
            )
            ev.tracker.report(f"judge {model.name}", position + 1, len(todo), suffix)
    finally:
        engine.close()
