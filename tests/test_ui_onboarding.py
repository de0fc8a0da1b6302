from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWizard

from gravity_desktop.cli import cli
from gravity_desktop.config import paths
from gravity_desktop.profile import service
from gravity_desktop.profile.instruments import SCALED, load_questionnaire
from gravity_desktop.store import open_store
from tests.answer_patterns import all_answers

POLES = {
    "O": True,
    "N": False,
    "benevolence": True,
    "power": False,
    "UAI": True,
    "survival_self_expression": True,
}
LANGUAGES = ["en", "pt"]  # in the order the picker lists them
GENRES = ["fantasy", "poetry"]
AVOID = ["suicide"]


@pytest.fixture
def conn():
    connection = open_store(paths().database)
    yield connection
    connection.close()


def make_wizard(qtbot, conn, sections=None):
    from gravity_desktop.ui.onboarding import OnboardingWizard

    wizard = OnboardingWizard(conn) if sections is None else OnboardingWizard(conn, sections)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def fill_about(page, country: str = "BR") -> None:
    page.country.setCurrentIndex(page.country.findData(country))
    page.age.setCurrentIndex(page.age.findData("35-44"))
    for row in range(page.languages.count()):
        entry = page.languages.item(row)
        if entry.data(Qt.ItemDataRole.UserRole) in LANGUAGES:
            entry.setCheckState(Qt.CheckState.Checked)


def fill_scaled(page, answers: dict[str, int]) -> None:
    for item_id, group in page.groups.items():
        if item_id in answers:
            group.button(answers[item_id]).click()


def fill_interests(page) -> None:
    for field, wanted in (("genres", GENRES), ("avoid", AVOID)):
        widget = page.lists[field]
        for row in range(widget.count()):
            if widget.item(row).text() in wanted:
                widget.item(row).setCheckState(Qt.CheckState.Checked)


def test_wizard_completed_programmatically_equals_the_cli_scores(qtbot, conn, tmp_path) -> None:
    wizard = make_wizard(qtbot, conn)
    answers = all_answers(POLES)
    finished = []
    wizard.completed.connect(finished.append)

    welcome = wizard.currentPage()
    assert "stay in one folder here" in welcome.findChild(QLabel, "privacyPromise").text()
    wizard.next()
    assert wizard.currentPage() is wizard.pages["about"]
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    fill_about(wizard.pages["about"])
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wizard.next()
    for section in SCALED:
        page = wizard.pages[section]
        assert wizard.currentPage() is page
        assert not page.isComplete() and "Still needed" in page.missing_label.text()
        fill_scaled(page, answers)
        assert page.isComplete()
        wizard.next()
    assert wizard.currentPage() is wizard.pages["interests"]
    fill_interests(wizard.pages["interests"])
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert len(finished) == 1
    from_wizard = finished[0].as_json()

    answers_json = {
        "country": "BR",
        "answers": answers,
        "about": {"age_band": "35-44", "languages": LANGUAGES},
        "interests": {"genres": GENRES, "avoid": AVOID},
    }
    file = tmp_path / "answers.json"
    file.write_text(json.dumps(answers_json))
    result = CliRunner().invoke(cli, ["profile", "score", str(file), "--json"])
    from_cli = json.loads(result.stdout)
    assert from_wizard.pop("version") == 1
    from_cli.pop("version")
    assert from_wizard == from_cli
    shown = CliRunner().invoke(cli, ["profile", "show", "--json"])
    assert json.loads(shown.stdout)["ocean"] == from_cli["ocean"]


def test_answers_are_saved_one_by_one_and_the_wizard_resumes(qtbot, conn) -> None:
    wizard = make_wizard(qtbot, conn)
    wizard.next()  # past the welcome page
    fill_about(wizard.pages["about"], "JP")
    wizard.next()
    big_five = load_questionnaire().instruments["big_five"]
    some = {item.id: 4 for item in big_five.items[:3]}
    fill_scaled(wizard.pages["big_five"], some)
    wizard.close()  # "continue later"

    items, fields = service.draft(conn)
    assert items == some
    assert fields["about"]["country"] == "JP"

    again = make_wizard(qtbot, conn)
    assert again.currentPage() is again.pages["big_five"]  # the first unfinished section
    page = again.pages["big_five"]
    assert {i: g.checkedId() for i, g in page.groups.items() if g.checkedId() != -1} == some
    assert again.pages["about"].country.currentData() == "JP"
    assert page.progress.value() == 3


def test_retaking_a_section_makes_a_new_version_and_keeps_the_old(qtbot, conn) -> None:
    from gravity_desktop.profile.answers import parse_answers

    service.onboard(conn, parse_answers({"country": "IN", "answers": all_answers({"E": True})}))
    retake = make_wizard(qtbot, conn, ("big_five",))
    assert retake.currentPage() is retake.pages["big_five"]
    fill_scaled(retake.pages["big_five"], all_answers({"E": False}))
    retake.button(QWizard.WizardButton.FinishButton).click()
    current = service.current_profile(conn)
    assert current.version == 2 and current.ocean["E"] == 0.0
    assert service.profile_version(conn, 1).ocean["E"] == 100.0
    from gravity_desktop.store.profiles import all_versions

    assert [v.reason for v in all_versions(conn)] == ["onboarding", "retake:big_five"]


def test_profile_charts_draw_the_profile_json(qtbot) -> None:
    from gravity_desktop.profile.answers import parse_answers
    from gravity_desktop.profile.profile import build_profile
    from gravity_desktop.ui.profile_view import ProfileView

    data = build_profile(parse_answers({"country": "US", "answers": all_answers(POLES)})).as_json()
    view = ProfileView()
    qtbot.addWidget(view)
    view.show_profile(data)

    ocean = view.charts["ocean"].series()[0].barSets()[0]
    assert [ocean.at(i) for i in range(5)] == [data["ocean"][t] for t in "NAECO"]  # bottom up
    radar = view.charts["schwartz"].series()[0]
    values = [p.y() for p in radar.points()][:10]
    assert values == pytest.approx(list(data["schwartz"].values()))
    you, country = view.charts["hofstede"].series()[0].barSets()
    dims = list(data["hofstede"])
    assert [you.at(i) for i in range(6)] == [data["hofstede"][d]["person"] for d in dims]
    assert [country.at(i) for i in range(6)] == [data["hofstede"][d]["country"] for d in dims]
    points = {s.name(): s.points()[0] for s in view.charts["wvs"].series()}
    assert points["You"].x() == data["wvs"]["survival_self_expression"]["person"]
    assert points["You"].y() == data["wvs"]["traditional_secular"]["person"]
    assert points["United States"].y() == data["wvs"]["traditional_secular"]["country"]
    assert "Reader from United States" in view.summary.text()


def test_main_window_starts_onboarding_without_a_profile(qtbot, tmp_path: Path) -> None:
    from gravity_desktop.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.start()
    assert window.wizard is not None and window.wizard.isVisible()
    qtbot.waitUntil(lambda: bool(window.engine or window.load_error), timeout=60_000)
    window.close()
