from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gravity_desktop.cli import cli
from gravity_desktop.profile.instruments import load_questionnaire
from tests.answer_patterns import answers_file


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write(tmp_path: Path, data: object, name: str = "answers.json") -> Path:
    file = tmp_path / name
    file.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return file


SAMPLE = answers_file(
    "BR",
    {"O": True, "A": True, "universalism": True, "IDV": False, "survival_self_expression": True},
    about={"age_band": "35-44", "languages": ["pt"], "reading_frequency": "every day"},
    interests={"genres": ["magical realism"], "themes": ["family"], "avoid": ["sexual violence"]},
)


def test_questionnaire_json_lists_items_with_the_schema_fields() -> None:
    result = run("questionnaire", "--json")
    assert result.exit_code == 0
    items = json.loads(result.stdout)
    assert len(items) == len(load_questionnaire().items)
    for item in items:
        assert set(item) == {"id", "instrument", "facet", "text", "scale", "keyed"}
        assert set(item["scale"]) == {"min", "max", "labels"}


def test_questionnaire_text_shows_every_section() -> None:
    result = run("questionnaire")
    assert result.exit_code == 0
    for title in ("About you", "Your personality", "What matters to you", "What you like to read"):
        assert title in result.stdout


def test_score_does_not_store(tmp_path: Path) -> None:
    result = run("profile", "score", str(write(tmp_path, SAMPLE)), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["ocean"]) == {"O", "C", "E", "A", "N"}
    assert data["ocean"]["O"] == 100.0
    assert len(data["schwartz"]) == 10
    assert set(data["higher_order"]) == {
        "openness_to_change",
        "self_enhancement",
        "conservation",
        "self_transcendence",
    }
    assert set(data["hofstede"]["IDV"]) == {"person", "country", "blended"}
    assert set(data["wvs"]["traditional_secular"]) == {"person", "country"}
    assert data["interests"]["genres"] == ["magical realism"]
    assert data["summary"].startswith("Reader from Brazil")
    assert run("profile", "show").exit_code == 2


def test_onboard_then_show_returns_the_same_scores(tmp_path: Path) -> None:
    file = write(tmp_path, SAMPLE)
    scored = json.loads(run("profile", "score", str(file), "--json").stdout)
    stored = run("onboard", "--answers", str(file), "--json")
    assert stored.exit_code == 0, stored.output
    shown = json.loads(run("profile", "show", "--json").stdout)
    assert shown["version"] == 1
    scored.pop("version"), shown.pop("version")
    assert shown == scored
    text = run("profile", "show")
    assert "OCEAN" in text.stdout and "Reader from Brazil" in text.stdout


def test_onboarding_again_makes_a_new_version_and_keeps_the_old(tmp_path: Path) -> None:
    run("onboard", "--answers", str(write(tmp_path, SAMPLE)))
    changed = answers_file("JP", {"O": False})
    run("onboard", "--answers", str(write(tmp_path, changed, "second.json")))
    versions = json.loads(run("profile", "versions", "--json").stdout)
    assert [v["version"] for v in versions] == [1, 2]
    assert json.loads(run("profile", "show", "--json").stdout)["country"]["code"] == "JP"
    first = json.loads(run("profile", "show", "--version", "1", "--json").stdout)
    assert first["country"]["code"] == "BR" and first["ocean"]["O"] == 100.0


def _assert_rejected(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_answers_exit_2_and_store_nothing(tmp_path: Path) -> None:
    cases = [
        ({**SAMPLE, "answers": {**SAMPLE["answers"], "bf_o_1": 7}}, "bf_o_1", "outside the scale"),
        ({**SAMPLE, "answers": {**SAMPLE["answers"], "bf_o_1": 2.5}}, "bf_o_1", "not an integer"),
        ({**SAMPLE, "answers": {"nope_1": 3}}, "nope_1", "unknown item id"),
        ({**SAMPLE, "country": "ZZ"}, "country", "'ZZ'"),
        ('{"country": "BR", "answers": {', "not valid JSON"),
    ]
    for index, (data, *fragments) in enumerate(cases):
        file = write(tmp_path, data, f"bad{index}.json")
        _assert_rejected(run("onboard", "--answers", str(file)), file.name, *fragments)
        _assert_rejected(run("profile", "score", str(file)), file.name, *fragments)
    _assert_rejected(run("onboard", "--answers", str(tmp_path / "missing.json")), "missing.json")
    assert json.loads(run("profile", "versions", "--json").stdout) == []
    _assert_rejected(run("profile", "show"), "no profile yet")
