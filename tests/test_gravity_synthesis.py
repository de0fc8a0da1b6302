from __future__ import annotations

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from gravity_desktop.app_context import opened
from gravity_desktop.cli import cli
from gravity_desktop.errors import UserError
from gravity_desktop.gravity.feedback import give_feedback
from gravity_desktop.gravity.synthesis import SynthesisRequest, synthesize
from gravity_desktop.llm.engine import CancelToken
from gravity_desktop.profile.answers import parse_answers
from gravity_desktop.profile.service import onboard
from gravity_desktop.store import pairs as store
from tests.answer_patterns import all_answers
from tests.fake_teacher import FakeTeacher

POLES = {"O": True, "benevolence": True, "universalism": True, "IDV": False}


@pytest.fixture
def reader():
    with opened() as ctx:
        return onboard(ctx.conn, parse_answers({
            "country": "IN", "answers": all_answers(POLES),
            "interests": {"genres": ["literary fiction", "science fiction"],
                          "themes": ["family", "identity"]},
        }))  # fmt: skip


def run(method="gravity", books=3, per_book=3, seed=1, teacher=None, cancel=None, reader=None):
    with opened() as ctx:
        return synthesize(
            ctx.conn, teacher or FakeTeacher(), "fake-teacher", reader,
            SynthesisRequest(method, books, per_book, seed), cancel=cancel,
        )  # fmt: skip


def test_gravity_pairs_are_filtered_and_stored_with_provenance(reader) -> None:
    report = run(reader=reader)
    assert report.kept + report.rejected == report.total_units == 9
    assert report.kept >= 6, report.reasons
    with opened() as ctx:
        stored = store.pairs(ctx.conn, method="gravity")
        scenario_rows = ctx.conn.execute("SELECT facets, reason FROM scenario").fetchall()
    assert len(stored) == report.kept
    for pair in stored:
        assert pair.source == "synthetic" and pair.rejected and pair.chosen != pair.rejected
        assert pair.facets and pair.book_id and pair.scenario_id
        assert pair.profile_version == reader.version
        assert pair.model_id == "fake-teacher" and pair.seed is not None
        assert pair.template_version == "describe-v1/pairs-v1"
        assert pair.fit_margin > 0 and pair.created_at
        # the DPO prompt is the neutral serving prompt, not the teacher's instructions
        assert pair.prompt[-1]["content"].endswith("Describe this book in 3 or 4 sentences.")
        assert "focusing" not in json.dumps(pair.prompt)
    assert scenario_rows and all(json.loads(f) and r for f, r in scenario_rows)


def test_same_seed_same_plan_and_text(reader) -> None:
    run(reader=reader)
    with opened() as ctx:
        first = [(p.book_id, p.facets, p.chosen) for p in store.pairs(ctx.conn)]
        ctx.conn.execute("DELETE FROM pair")
        ctx.conn.execute("DELETE FROM rejected_candidate")
        ctx.conn.execute("DELETE FROM synthesis_run")
    run(reader=reader)
    with opened() as ctx:
        assert [(p.book_id, p.facets, p.chosen) for p in store.pairs(ctx.conn)] == first


def test_a_cancelled_run_resumes_where_it_stopped(reader) -> None:
    cancel = CancelToken()
    stopped = run(reader=reader, teacher=FakeTeacher(cancel_after=7), cancel=cancel)
    assert stopped.stopped
    done = stopped.kept + stopped.rejected
    # 7 texts: the first book's 3 units took 6, and the second book's first was cut short.
    assert done == 3
    resumed = run(reader=reader)
    assert resumed.resumed and resumed.already_done == done
    assert resumed.kept + resumed.rejected == resumed.total_units - done
    again = run(reader=reader)  # finished runs are not resumed: a new run with the same plan
    assert not again.resumed


class FirstTryInvents(FakeTeacher):
    """Invents a name every other time it is given the same request: each side fails once."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: dict[str, int] = {}

    def chat(self, messages, settings, cancel=None):
        completion = super().chat(messages, settings, cancel)
        ask = messages[-1]["content"]
        self.asked[ask] = self.asked.get(ask, 0) + 1
        if self.asked[ask] % 2 == 0:
            return completion
        return replace(completion, text=completion.text + " Zephon Quarrick narrates it.")


def test_a_failing_side_is_written_again_and_the_failure_kept(reader) -> None:
    teacher = FirstTryInvents()
    report = run(books=1, per_book=2, teacher=teacher, reader=reader)
    assert report.kept == 2 and report.rejected == 0
    assert report.generations == teacher.calls == 8  # two tries on each side of two units
    assert report.reasons == {"chosen invents names not in the book's facts": 2,
                              "rejected invents names not in the book's facts": 2}  # fmt: skip
    with opened() as ctx:
        kept = store.pairs(ctx.conn, method="gravity")
        assert all("Zephon" not in p.chosen + p.rejected for p in kept)


def test_a_unit_is_given_up_after_its_tries(reader) -> None:
    class AlwaysInvents(FakeTeacher):
        def chat(self, messages, settings, cancel=None):
            done = super().chat(messages, settings, cancel)
            return replace(done, text=done.text + " Zephon Quarrick narrates it.")

    teacher = AlwaysInvents()
    with opened() as ctx:
        report = synthesize(ctx.conn, teacher, "fake-teacher", reader,
                            SynthesisRequest("gravity", 1, 1, 5, tries=2))  # fmt: skip
    # Both sides are asked for at once, so the unit also paid for one rejected text that was
    # never checked: 2 chosen tries and 1 rejected.
    assert (report.kept, report.rejected, report.generations, teacher.calls) == (0, 1, 3, 3)


class PlainUntilAskedAgain(FakeTeacher):
    """Writes the focus asked for only into a unit's second chosen text; every other text has a
    plain third sentence that leans to no facet."""

    def __init__(self) -> None:
        super().__init__()
        self.chosen_asked: dict[str, int] = {}

    def chat(self, messages, settings, cancel=None):
        completion = super().chat(messages, settings, cancel)
        ask = messages[-1]["content"]
        if ", rather than" in ask:
            self.chosen_asked[ask] = self.chosen_asked.get(ask, 0) + 1
            if self.chosen_asked[ask] == 2:
                return completion
        plain = (" Above all it runs to its last page without one pause." if ", rather than" in ask
                 else " Above all it keeps one steady speed from start to finish.")  # fmt: skip
        return replace(completion, text=completion.text.split(" Above all")[0] + plain)


def test_a_chosen_text_that_leans_nowhere_is_written_again(reader) -> None:
    """Plain texts on both sides tie on the fit check; the chosen one is at fault, so it is
    written again and checked against the rejected text already written."""
    teacher = PlainUntilAskedAgain()
    report = run(books=1, per_book=2, teacher=teacher, reader=reader)
    assert (report.kept, report.rejected) == (2, 0), report.reasons
    assert report.generations == teacher.calls == 6  # per unit: chosen twice, rejected once
    assert report.reasons == {"the chosen text does not fit the scenario better than the"
                              " rejected one": 2}  # fmt: skip
    with opened() as ctx:
        assert all("steady speed" in p.rejected and "last page" not in p.chosen
                   for p in store.pairs(ctx.conn, method="gravity"))  # fmt: skip


def test_baselines_produce_their_data(reader) -> None:
    naive = run("naive", reader=None)
    sft = run("sft", reader=reader)
    with opened() as ctx:
        generic = store.pairs(ctx.conn, method="naive")
        chosen_only = store.pairs(ctx.conn, method="sft")
    assert naive.kept > 0 and len(generic) == naive.kept
    assert all(p.facets == () and p.scenario_id is None and p.rejected for p in generic)
    assert sft.kept > 0 and all(p.rejected is None and p.facets for p in chosen_only)


def test_gravity_needs_a_profile() -> None:
    with pytest.raises(UserError, match="needs a profile"):
        run("gravity", reader=None)


def test_feedback_pairs_survive_resynthesis(reader) -> None:
    with opened() as ctx:
        description = store.add_description(
            ctx.conn, book_id="dune-herbert", profile_version=reader.version, model_id="m",
            adapter_id=None, seed=1, template_version="describe-v1",
            prompt=[{"role": "user", "content": "x"}], text="Dune by Frank Herbert is long.",
        )  # fmt: skip
        result = give_feedback(
            ctx.conn,
            "dune-herbert",
            "down",
            "Dune by Frank Herbert, in short: a desert, a spice, a family.",
            description,
        )
        assert len(result.pair_ids) == 1
    run(reader=reader)
    run("naive", reader=reader)
    with opened() as ctx:
        assert len(store.pairs(ctx.conn, source="feedback")) == 1


def test_cli_generate_with_the_bundled_model_and_stats(reader, seeded_teacher_copy) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["pairs", "generate", "--books", "1", "--scenarios-per-book",
                                 "1", "--seed", "3", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["kept"] + report["rejected"] == report["total_units"] == 1
    stats = json.loads(runner.invoke(cli, ["pairs", "stats", "--json"]).stdout)
    assert sum(stats["pairs"].values()) == report["kept"]
    # Every failed attempt (retries included) is kept with its reason.
    assert sum(stats["rejected_candidates"].values()) == sum(report["rejection_reasons"].values())
    assert report["generations"] >= 1 + report["kept"]
    again = runner.invoke(cli, ["pairs", "generate", "--books", "1", "--scenarios-per-book",
                                "1", "--seed", "4"])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "from 1 unit (" in again.stdout and " rejected, in " in again.stdout
    bad = runner.invoke(cli, ["pairs", "generate", "--teacher", "no-such-model"])
    assert bad.exit_code == 2 and "unknown model id" in bad.stderr
