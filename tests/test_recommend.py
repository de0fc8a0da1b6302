from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from gravity_desktop.app_context import opened
from gravity_desktop.catalog.library import set_status
from gravity_desktop.cli import cli
from gravity_desktop.profile.answers import parse_answers
from gravity_desktop.profile.profile import build_profile
from gravity_desktop.recommend.ranking import attributes, recommend
from gravity_desktop.store import books as store
from tests.answer_patterns import all_answers


def profile_with(poles: dict[str, bool], country: str = "US", **interests):
    raw = {"country": country, "answers": all_answers(poles)}
    if interests:
        raw["interests"] = interests
    return build_profile(parse_answers(raw))


def share(recommendations, wanted: set[str]) -> float:
    hits = sum(1 for r in recommendations if attributes(r.book) & wanted)
    return hits / len(recommendations)


EXPLORER = {"O": True, "stimulation": True, "self_direction": True, "UAI": False}
KEEPER = {
    "O": False,
    "tradition": True,
    "conformity": True,
    "UAI": True,
    "traditional_secular": False,
}
SPECULATIVE = {"genre:science fiction", "genre:fantasy", "genre:magical realism", "genre:dystopian"}
TRADITIONAL = {
    "theme:tradition",
    "theme:religion",
    "theme:spirituality",
    "genre:classic",
    "genre:mystery",
    "genre:crime",
}


def test_ranking_visibly_follows_the_profile() -> None:
    with opened() as ctx:
        explorer = recommend(ctx.conn, profile_with(EXPLORER), 20)
        keeper = recommend(ctx.conn, profile_with(KEEPER), 20)
    assert share(explorer, SPECULATIVE) > share(keeper, SPECULATIVE) + 0.3
    assert share(keeper, TRADITIONAL) > share(explorer, TRADITIONAL) + 0.3
    assert "ocean:O" in Counter(f for r in explorer for f in r.facets)
    assert any(f.startswith("schwartz:tradition") for r in keeper for f in r.facets)


def test_every_recommendation_has_reasons_naming_its_facets() -> None:
    with opened() as ctx:
        ranked = recommend(ctx.conn, profile_with(EXPLORER, genres=["poetry"]), 15)
    assert len(ranked) == 15
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    for item in ranked:
        assert 1 <= len(item.reasons) <= 3 and len(item.facets) == len(item.reasons)
        for facet in item.facets:
            assert facet.split(":")[0] in {
                "interest",
                "ocean",
                "schwartz",
                "hofstede",
                "wvs",
                "history",
                "culture",
            }
    poetry = [r for r in ranked if "poetry" in r.book.genres]
    assert poetry and "interest:genres" in poetry[0].facets
    assert "you enjoy poetry" in poetry[0].reasons


def test_avoided_content_is_left_out() -> None:
    with opened() as ctx:
        ranked = recommend(ctx.conn, profile_with({}, avoid=["violence", "war atrocities"]), 500)
    assert ranked
    for item in ranked:
        assert not {"violence", "war atrocities"} & set(item.book.content_notes)


def test_reading_history_shapes_the_ranking() -> None:
    profile = profile_with({})
    with opened() as ctx:
        before = [r.book.id for r in recommend(ctx.conn, profile, 300)]
        set_status(ctx.conn, "kitchen-yoshimoto", "liked")
        set_status(ctx.conn, "dune-herbert", "read")
        set_status(ctx.conn, "memory-police-ogawa", "to-read")
        after = recommend(ctx.conn, profile, 300)
    ids = [r.book.id for r in after]
    assert "kitchen-yoshimoto" not in ids and "dune-herbert" not in ids
    to_read = next(r for r in after if r.book.id == "memory-police-ogawa")
    assert "on your to-read shelf" in to_read.reasons
    assert ids.index("memory-police-ogawa") < before.index("memory-police-ogawa")
    by_author = [r for r in after if r.book.author == "Banana Yoshimoto"]
    for item in by_author:
        assert "history:author" in item.facets or "history:liked" in item.facets


def test_disliked_books_pull_similar_books_down() -> None:
    profile = profile_with({})
    with opened() as ctx:
        base = {r.book.id: r.score for r in recommend(ctx.conn, profile, 300)}
        set_status(ctx.conn, "dune-herbert", "disliked")
        after = {r.book.id: r for r in recommend(ctx.conn, profile, 300)}
    lowered = [
        i for i, r in after.items() if "history:disliked" in {c.facet for c in r.contributions}
    ]
    assert lowered
    for book_id in lowered:
        assert after[book_id].score < base[book_id]


def test_culture_of_the_reader_counts() -> None:
    brazilian = build_profile(
        parse_answers({"country": "BR", "answers": all_answers({}), "about": {"languages": ["pt"]}})
    )
    with opened() as ctx:
        ranked = recommend(ctx.conn, brazilian, 300)
    from_brazil = [r for r in ranked if r.book.country == "BR"]
    assert from_brazil
    assert "culture:country" in {c.facet for c in from_brazil[0].contributions}
    assert any("first written in Portuguese" in c.reason for c in from_brazil[0].contributions)


def test_cli_recommend_json_and_errors(tmp_path) -> None:
    runner = CliRunner()
    nothing = runner.invoke(cli, ["recommend"])
    assert nothing.exit_code == 2 and "nothing to go on yet" in nothing.stderr
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"country": "JP", "answers": all_answers(EXPLORER)}))
    assert runner.invoke(cli, ["onboard", "--answers", str(answers)]).exit_code == 0
    result = runner.invoke(cli, ["recommend", "-n", "5", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert len(items) == 5
    for item in items:
        assert {"book_id", "title", "author", "score", "reasons"} <= set(item)
        assert item["reasons"]
    text = runner.invoke(cli, ["recommend", "-n", "2"])
    assert text.stdout.startswith(" 1. ")


def test_embeddings_are_computed_in_a_worker_and_cached() -> None:
    from gravity_desktop.recommend.embeddings import (
        compute_embeddings,
        cosine,
        load_vectors,
        missing_embeddings,
    )

    with opened() as ctx:
        database = ctx.paths.database
        count = len(store.all_books(ctx.conn))
    seen = []
    done = compute_embeddings(database, progress=lambda d, t: seen.append((d, t)))
    assert done == count and seen[-1] == (count, count)
    with opened() as ctx:
        assert missing_embeddings(ctx.conn) == []
        vectors = load_vectors(ctx.conn)
        assert compute_embeddings(database) == 0  # cached: nothing to do the second time
        set_status(ctx.conn, "kitchen-yoshimoto", "liked")
        ranked = recommend(ctx.conn, None, 5)
    assert len(vectors) == count and len(vectors["dune-herbert"]) == 384
    assert cosine(vectors["dune-herbert"], vectors["dune-herbert"]) == pytest.approx(1.0, abs=1e-5)
    # embeddings make the nearest books of a liked one show up with that reason
    assert any("history:liked" in r.facets for r in ranked)
