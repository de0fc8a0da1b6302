from __future__ import annotations

import json
from pathlib import Path

import pytest

from gravity_desktop.errors import UserError
from gravity_desktop.profile.answers import parse_answers, read_answers_file
from gravity_desktop.profile.culture import baseline, covered_countries
from gravity_desktop.profile.instruments import (
    FACETS,
    QUESTIONNAIRE_DIR,
    SCALED,
    load_instrument,
    load_questionnaire,
)
from gravity_desktop.profile.profile import build_profile
from gravity_desktop.profile.scoring import HOFSTEDE_PERSON_WEIGHT
from tests.answer_patterns import all_answers, toward


def score(answers: dict[str, int], country: str = "BR", **extra):
    return build_profile(parse_answers({"country": country, "answers": answers, **extra}))


# --- resources ---------------------------------------------------------------------------


def test_instrument_files_validate_and_follow_the_design() -> None:
    q = load_questionnaire()
    big_five = q.instruments["big_five"]
    for trait in FACETS["big_five"]:
        items = big_five.items_of(trait)
        assert len(items) >= 4
        assert sum(i.keyed == 1 for i in items) == sum(i.keyed == -1 for i in items)
        assert (items[0].scale.min, items[0].scale.max) == (1, 5)
    schwartz = q.instruments["schwartz"]
    for value in FACETS["schwartz"]:
        items = schwartz.items_of(value)
        assert len(items) >= 2 and (items[0].scale.min, items[0].scale.max) == (1, 6)
    for dim in FACETS["hofstede"]:
        assert len(q.instruments["hofstede"].items_of(dim)) >= 2
    for axis in FACETS["wvs"]:
        assert len(q.instruments["wvs"].items_of(axis)) >= 3
    fields = sum(len(q.instruments[s].fields) for s in ("about", "interests"))
    assert len(q.items) + fields <= 90
    assert len({i.id for i in q.items}) == len(q.items)


def test_a_broken_instrument_file_is_reported_with_item_and_field(tmp_path: Path) -> None:
    raw = json.loads((QUESTIONNAIRE_DIR / "big_five.json").read_text())
    raw["items"][2]["keyed"] = 2
    bad = tmp_path / "big_five.json"
    bad.write_text(json.dumps(raw))
    item_id = raw["items"][2]["id"]
    with pytest.raises(UserError, match=rf"item #3 \({item_id}\): field 'keyed' must be 1 or -1"):
        load_instrument(bad, "big_five")
    raw["items"][2]["keyed"] = 1
    raw["items"][2]["scale"]["labels"].pop()
    bad.write_text(json.dumps(raw))
    with pytest.raises(UserError, match="max-min\\+1 labels"):
        load_instrument(bad, "big_five")


def test_culture_tables_cover_the_four_study_countries_and_twenty_more() -> None:
    covered = covered_countries()
    assert {"US", "BR", "JP", "IN"} <= set(covered)
    assert len(covered) >= 24
    japan = baseline("jp")
    assert japan.hofstede["UAI"] == 92 and japan.hofstede["MAS"] == 95
    assert baseline("CL").hofstede is None  # a real country without a table entry
    with pytest.raises(UserError, match="'XX' is not a known ISO 3166"):
        baseline("XX")


# --- keying ------------------------------------------------------------------------------


def test_keying_and_reverse_keying_reach_both_poles() -> None:
    high = score(all_answers({t: True for t in FACETS["big_five"]}))
    low = score(all_answers({t: False for t in FACETS["big_five"]}))
    assert high.ocean == {t: 100.0 for t in FACETS["big_five"]}
    assert low.ocean == {t: 0.0 for t in FACETS["big_five"]}


def test_agreeing_with_everything_lands_in_the_middle_with_low_consistency() -> None:
    q = load_questionnaire()
    answers = {i.id: i.scale.max for i in q.instruments["big_five"].items}
    profile = score(answers)
    assert profile.ocean["O"] == 50.0
    assert profile.reliability["ocean"]["O"]["reliability"] == "low"
    assert profile.reliability["ocean"]["O"]["consistency"] == 0.0


def test_consistent_complete_answers_are_reliable() -> None:
    profile = score(all_answers({"O": True}))
    assert profile.reliability["ocean"]["O"] == {
        "answered": 4,
        "items": 4,
        "consistency": 1.0,
        "reliability": "good",
    }


# --- Schwartz ----------------------------------------------------------------------------


def test_mrat_centering() -> None:
    q = load_questionnaire()
    flat = {i.id: 4 for i in q.instruments["schwartz"].items}
    profile = score(flat)
    assert profile.mrat == 4.0
    assert set(profile.schwartz.values()) == {0.0}

    items = q.instruments["schwartz"].items
    raised = {i.id: (6 if i.facet == "self_direction" else 3) for i in items}
    profile = score(raised)
    n_sd = sum(1 for i in items if i.facet == "self_direction")
    mrat = (6 * n_sd + 3 * (len(items) - n_sd)) / len(items)
    assert profile.mrat == pytest.approx(mrat, abs=1e-3)
    assert profile.schwartz["self_direction"] == pytest.approx(6 - mrat, abs=0.01)
    assert profile.schwartz["power"] == pytest.approx(3 - mrat, abs=0.01)
    # centered scores sum to ~0 when every value has the same number of items
    assert sum(profile.schwartz.values()) == pytest.approx(0, abs=0.05)


def test_higher_order_values_follow_their_values() -> None:
    q = load_questionnaire()
    items = q.instruments["schwartz"].items
    caring = {"benevolence", "universalism"}
    answers = {i.id: (6 if i.facet in caring else 2) for i in items}
    profile = score(answers)
    ho = profile.higher_order
    assert ho["self_transcendence"] > 0 > ho["self_enhancement"]
    assert ho["self_transcendence"] == max(ho.values())
    assert "benevolence" in profile.summary or "universalism" in profile.summary


def test_schwartz_needs_most_items_for_mrat() -> None:
    q = load_questionnaire()
    items = q.instruments["schwartz"].items
    few = {i.id: 5 for i in items[: len(items) // 2]}
    profile = score(few)
    assert profile.mrat is None
    assert set(profile.schwartz.values()) == {None}
    assert set(profile.higher_order.values()) == {None}


# --- poles for culture and beliefs ---------------------------------------------------------


@pytest.mark.parametrize("dimension", FACETS["hofstede"])
def test_hofstede_patterns_land_at_each_pole_and_blend_with_the_country(dimension: str) -> None:
    country = baseline("BR").hofstede[dimension]
    high = score(all_answers({dimension: True})).hofstede[dimension]
    low = score(all_answers({dimension: False})).hofstede[dimension]
    assert high["person"] == 100.0 and low["person"] == 0.0
    assert high["country"] == low["country"] == country
    w = HOFSTEDE_PERSON_WEIGHT
    assert high["blended"] == pytest.approx(w * 100 + (1 - w) * country, abs=0.05)
    assert low["blended"] == pytest.approx((1 - w) * country, abs=0.05)


@pytest.mark.parametrize("axis", FACETS["wvs"])
def test_wvs_patterns_land_at_each_pole(axis: str) -> None:
    high = score(all_answers({axis: True}), country="JP").wvs[axis]
    low = score(all_answers({axis: False}), country="JP").wvs[axis]
    assert high["person"] == 2.0 and low["person"] == -2.0
    assert high["country"] == baseline("JP").wvs[axis]


def test_a_country_without_a_table_entry_uses_the_person_alone() -> None:
    profile = score(all_answers({"PDI": True}), country="CL")
    assert profile.hofstede["PDI"] == {"person": 100.0, "country": None, "blended": 100.0}
    assert profile.wvs["traditional_secular"]["country"] is None


# --- missing answers ---------------------------------------------------------------------


def test_missing_item_rule() -> None:
    q = load_questionnaire()
    openness = q.instruments["big_five"].items_of("O")
    minimum = q.instruments["big_five"].min_answers_per_facet
    one = {openness[0].id: toward(openness[0], True)}
    profile = score(one)
    assert profile.ocean["O"] is None
    assert profile.reliability["ocean"]["O"]["reliability"] == "unknown"
    enough = {i.id: toward(i, True) for i in openness[:minimum]}
    profile = score(enough)
    assert profile.ocean["O"] == 100.0
    assert profile.reliability["ocean"]["O"]["reliability"] == "fair"
    assert profile.counts["big_five"] == {
        "answered": minimum,
        "items": len(q.instruments["big_five"].items),
    }
    # the other traits were not answered at all: unknown, never guessed
    assert profile.ocean["C"] is None


# --- the card ----------------------------------------------------------------------------


def test_profile_card_is_deterministic_and_names_the_clear_facets() -> None:
    answers = {
        "country": "IN",
        "answers": all_answers({"O": True, "N": False, "IDV": True}),
        "about": {"age_band": "25-34", "languages": ["hi", "en"]},
        "interests": {"genres": ["science fiction"], "themes": ["identity"], "avoid": ["violence"]},
    }
    first = build_profile(parse_answers(answers)).summary
    second = build_profile(parse_answers(answers)).summary
    assert first == second
    assert first.startswith("Reader from India (age 25-34; reads in Hindi and English).")
    assert "curious and open to new ideas" in first
    assert "calm and emotionally steady" in first
    assert "science fiction" in first and "violence" in first
    assert "organised" not in first  # C was answered in the middle: no pole claimed


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"country": "BR", "answers": {"bf_zz_9": 3}}, "unknown item id 'bf_zz_9'"),
        ({"country": "BR", "answers": {"bf_o_1": 9}}, "item 'bf_o_1': 9 is outside the scale 1-5"),
        ({"country": "BR", "answers": {"bf_o_1": 3.0}}, "item 'bf_o_1': 3.0 is not an integer"),
        ({"country": "BR", "answers": {"bf_o_1": "3"}}, "item 'bf_o_1': '3' is not an integer"),
        ({"country": "BR", "answers": {"bf_o_1": True}}, "item 'bf_o_1': True is not an integer"),
        ({"country": "XX", "answers": {}}, "country: 'XX' is not a known ISO 3166"),
        ({"country": "Brazil"}, "country: 'Brazil' is not a two-letter"),
        ({"answers": {}}, "field 'country' is required"),
        ({"country": "BR", "colour": "red"}, "unknown field(s) ['colour']"),
        ({"country": "BR", "about": {"age_band": "ancient"}}, "about.age_band: 'ancient'"),
        ({"country": "BR", "about": {"languages": ["xx"]}}, "about.languages: ['xx']"),
        ({"country": "BR", "interests": {"genres": ["cookbooks"]}}, "interests.genres:"),
        ({"country": "BR", "interests": {"pets": []}}, "interests: unknown field 'pets'"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_answers_name_the_item_or_field(raw: object, message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_answers(raw)
    assert message in str(caught.value)


def test_malformed_json_file_names_file_and_position(tmp_path: Path) -> None:
    file = tmp_path / "answers.json"
    file.write_text('{"country": "BR",\n "answers": {"bf_o_1": 4,}}')
    with pytest.raises(UserError, match=r"answers\.json: not valid JSON \(line 2"):
        read_answers_file(file)


def test_all_scaled_instruments_are_scored() -> None:
    profile = score(all_answers())
    for name in SCALED:
        assert profile.counts[name]["answered"] == profile.counts[name]["items"]
