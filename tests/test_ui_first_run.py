from __future__ import annotations

from types import SimpleNamespace

import pytest

from gravity_desktop.app_context import opened
from gravity_desktop.profile import service
from tests.answer_patterns import all_answers
from tests.fake_teacher import FakeTeacher


@pytest.fixture
def first_run(qtbot, monkeypatch):
    """A window on an empty data dir whose questionnaire is answered but not yet finished."""
    from gravity_desktop.ui import personalization_page
    from gravity_desktop.ui.main_window import MainWindow

    monkeypatch.setattr(
        personalization_page, "load_teacher", lambda ctx, note=None: ("fake", FakeTeacher())
    )
    with opened() as ctx:
        for item_id, value in all_answers({"O": True}).items():
            service.record_answer(ctx.conn, item_id, value)
        service.record_field(ctx.conn, "about", "country", "BR")
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.start_onboarding()  # what start() does without a profile, minus loading the model
    assert window.wizard is not None and window.wizard.isVisible()
    window.personalization.books.setValue(2)
    window.personalization.scenarios.setValue(2)
    yield window
    window.close()


def test_personalize_now_generates_pairs_then_trains(qtbot, first_run, monkeypatch) -> None:
    from gravity_desktop.ui import personalization_page

    trained = []

    def fake_training(ctx, config, on_event, cancel):
        trained.append(ctx.conn.execute("SELECT count(*) FROM pair").fetchone()[0])
        on_event({"event": "progress", "step": 1, "max_steps": 2, "loss": 0.6,
                  "reward_accuracy": 0.5, "margin": 0.1, "eta_seconds": 1})  # fmt: skip
        return SimpleNamespace(message="Trained and activated (stand-in).", activated=False)

    monkeypatch.setattr(personalization_page, "run_training", fake_training)
    window = first_run
    window.wizard.accept()
    offer = window.personalize_offer
    assert offer is not None and offer.isVisible()
    assert window.pages.currentWidget() is window.profile_view
    now = next(b for b in offer.buttons() if b.text() == "Personalize now")
    now.click()
    assert window.pages.currentWidget() is window.personalization
    page = window.personalization
    assert not page.generate.isEnabled() and page.cancel.isEnabled()
    qtbot.waitUntil(lambda: bool(trained) and page.generate.isEnabled(), timeout=60_000)
    assert trained[0] > 0  # training started after the pairs were written, and saw them
    assert page.status.text() == "Trained and activated (stand-in)."
    assert page.loss.count() == 1
    assert "gravity" in page.counts.text()


def test_later_leaves_personalization_for_later(qtbot, first_run) -> None:
    window = first_run
    window.wizard.accept()
    later = next(b for b in window.personalize_offer.buttons() if b.text() == "Later")
    later.click()
    assert not window.personalize_offer.isVisible()
    assert window.pages.currentWidget() is window.profile_view
    assert window.personalization.operation is None
    assert "Personalization page" in window.statusBar().currentMessage()


def test_retaking_a_section_does_not_offer_again(qtbot, first_run) -> None:
    window = first_run
    window.wizard.accept()
    window.personalize_offer.reject()
    window.personalize_offer = None
    retake = window.retake_section("big_five")
    retake.accept()
    assert window.personalize_offer is None
    with opened() as ctx:
        assert service.current_profile(ctx.conn).version == 2
