from __future__ import annotations

from dataclasses import replace

import pytest

from gravity_desktop.catalog.book import Book
from gravity_desktop.catalog.bundled import bundled_books
from gravity_desktop.gravity import filters
from gravity_desktop.gravity.scenarios import derive_scenarios
from gravity_desktop.profile.answers import parse_answers
from gravity_desktop.profile.profile import build_profile
from tests.answer_patterns import all_answers

BOOKS = {b.id: b for b in bundled_books()}
DUNE = BOOKS["dune-herbert"]


def profile(poles, country="BR", **extra):
    return build_profile(
        parse_answers({"country": country, "answers": all_answers(poles), **extra})
    )


READER = profile(
    {
        "O": True,
        "A": True,
        "universalism": True,
        "benevolence": True,
        "IDV": False,
        "traditional_secular": True,
    },
    interests={"genres": ["science fiction"], "themes": ["power"]},
)


def test_scenarios_are_grounded_in_facets_and_deterministic() -> None:
    first = derive_scenarios(READER, DUNE, 4, seed=5)
    again = derive_scenarios(READER, DUNE, 4, seed=5)
    other = derive_scenarios(READER, DUNE, 4, seed=6)
    assert first == again
    assert len(first) == 4
    assert [s.facets for s in first] != [s.facets for s in other] or first != other
    for scenario in first:
        assert 1 <= len(scenario.facets) <= 2
        frameworks = {f.split(":")[0] for f in scenario.facets}
        assert len(frameworks) == len(scenario.facets)  # two facets come from two frameworks
        assert frameworks <= {"interest", "ocean", "schwartz", "hofstede", "wvs", "culture"}
        assert scenario.bring_forward and scenario.opposite and scenario.reason
        assert scenario.cues and scenario.opposite_cues is not None
    facets = {f for s in first for f in s.facets}
    # the reader's clearest facets for this book come up
    assert facets & {
        "interest:genre:science fiction",
        "ocean:O+",
        "schwartz:universalism",
        "interest:theme:power",
    }


def test_a_reader_in_the_middle_of_every_scale_gets_only_country_leanings() -> None:
    plain = profile({})  # every answer at the scale midpoint; Brazil's baseline remains
    scenarios = derive_scenarios(plain, DUNE, 4, seed=1)
    assert scenarios
    assert all(f.startswith("hofstede:") for s in scenarios for f in s.facets)


def test_culture_scenario_for_a_book_from_the_readers_country() -> None:
    book = BOOKS["dom-casmurro-assis"]
    reader = profile({}, about={"languages": ["pt"]})
    facets = {f for s in derive_scenarios(reader, book, 10, seed=2) for f in s.facets}
    assert "culture:BR" in facets


GOOD = (
    "Dune by Frank Herbert follows Paul Atreides as his family takes control of the desert "
    "planet Arrakis, the only source of the spice. It is a bold, imaginative story full of ideas "
    "about ecology, power and belief, and it asks unusual questions about how a vision shapes "
    "a people."
)
FLAT = (
    "Dune by Frank Herbert is about Paul Atreides and his family on the desert planet Arrakis. "
    "The plot is clear and simple to follow, with a plain story about a family, their enemies "
    "and the fight for a planet where a valuable spice is found."
)


def test_filters_accept_a_good_pair_and_measure_fit() -> None:
    o_plus = ("idea", "imagin", "unusual", "vision", "bold")
    o_minus = ("clear", "simple", "plain", "follow")
    problem, margin = filters.pair_problem(DUNE, GOOD, FLAT, o_plus, o_minus)
    assert problem is None, problem
    assert margin > 0
    problem, margin = filters.pair_problem(DUNE, FLAT, GOOD, o_plus, o_minus)
    assert margin < 0 and "does not fit the scenario better" in problem


def test_a_short_cue_is_a_whole_word_and_a_longer_one_a_stem() -> None:
    assert filters.cue_score("Written with wit, to win.", ("wit", "win")) == 2
    assert filters.cue_score("Written with care in a window seat.", ("wit", "win", "car")) == 0
    assert filters.cue_score("Imaginative and unusually bold.", ("imagin", "unusual")) == 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Dune by Frank Herbert is good.", "too short"),
        (GOOD.replace("Dune", "The Book", 1), "does not name the title"),
        (GOOD.replace("Frank Herbert", "an author"), "does not name the author"),
        (GOOD + " A character named Zephon rules the sandworms.", "invents names"),
        (GOOD + " Its Châraçtér is vast.", "accented words the book's facts do not have"),
        (GOOD + " It is a lámina of sand.", "accented words the book's facts do not have"),
        ("Here is a description: " + GOOD, "echoes the prompt"),
        (GOOD + " " + " ".join(DUNE.synopsis.split()[:14]), "copies the synopsis"),
    ],
)
def test_each_filter_names_its_reason(text: str, reason: str) -> None:
    problem = filters.single_text_problem(text, DUNE, "chosen")
    assert problem is not None and reason in problem and problem.startswith("chosen")


def test_names_check_allows_ordinary_words_and_forms_of_known_names() -> None:
    text = GOOD + " Herbert's Arrakis is a Dream of American readers in Part II."
    assert filters.names_problem(text, DUNE, "chosen") is None


def test_names_with_an_apostrophe_are_checked_part_by_part() -> None:
    hamnet = replace(DUNE, title="Hamnet", author="Maggie O'Farrell")
    text = "Hamnet by Maggie O'Farrell tells of a family. O'Farrell writes of grief."
    assert filters.names_problem(text, hamnet, "chosen") is None
    assert "O'Brien" in filters.names_problem(text + " Then O'Brien appears.", hamnet, "chosen")
    # A lone "'s" leaves an empty word behind; it is not a name.
    assert filters.names_problem(text + " Grief 's weight.", hamnet, "chosen") is None


def test_chosen_must_differ_from_rejected_and_be_of_similar_length() -> None:
    assert "nearly the same" in filters.sameness_problem(GOOD, GOOD)
    short = "Dune by Frank Herbert. " * 2
    assert "differ too much in length" in filters.sameness_problem(GOOD + " " + GOOD, short * 1)


def test_generic_pairs_are_checked_for_specificity() -> None:
    vague = (
        "Dune by Frank Herbert is a book that many people have read. It is a story with some "
        "people in it, and things happen to them over time in a place far away, which is "
        "something that a lot of readers enjoy."
    )
    problem, margin = filters.pair_problem(DUNE, GOOD, vague, (), ())
    assert problem is None and margin > 0


def test_an_author_with_letters_beyond_latin_1_is_one_known_name() -> None:
    book = Book(
        id="grain", title="A Grain of Wheat", author="Ngũgĩ wa Thiong'o", year=1967,
        synopsis="Villagers in Kenya wait for independence while a quiet man hides a secret.",
    )  # fmt: skip
    text = "A Grain of Wheat by Ngũgĩ wa Thiong'o follows villagers in Kenya before independence."
    assert filters.names_problem(text, book, "chosen") is None


def test_accents_must_come_from_the_facts_or_ordinary_words() -> None:
    book = Book(
        id="paramo", title="Pedro Páramo", author="Juan Rulfo", year=1955,
        synopsis="A son goes to Comala to find his father, Pedro Páramo, and finds a town of"
        " voices; the Páramo family's land is dust.",
    )  # fmt: skip
    assert filters.foreign_accents("Páramo's sons, the Páramos, and Paramo.", book) == set()
    assert filters.foreign_accents("The Páramo café.", book) == set()  # a catalog word
    assert filters.foreign_accents("Pedro Páramo meets Elíté in Comalá.", book) == {
        "Elíté",
        "Comalá",
    }
