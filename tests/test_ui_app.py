from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QInputDialog, QMessageBox

from gravity_desktop.app_context import opened
from gravity_desktop.profile.answers import parse_answers
from gravity_desktop.profile.service import onboard
from gravity_desktop.store import pairs as pair_store
from gravity_desktop.ui.operations import Operation
from tests.answer_patterns import all_answers
from tests.fake_teacher import FakeTeacher

GOODREADS = Path(__file__).parent / "data" / "goodreads_library_export.csv"


@pytest.fixture
def window(qtbot):
    from gravity_desktop.ui.main_window import MainWindow

    with opened() as ctx:
        onboard(ctx.conn, parse_answers({
            "country": "BR", "answers": all_answers({"O": True, "universalism": True}),
            "interests": {"genres": ["magical realism"]},
        }))  # fmt: skip
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    main.start()
    qtbot.waitUntil(lambda: bool(main.engine or main.load_error), timeout=60_000)
    yield main
    # A test that failed mid-generation must not leave the close asking "stop it and quit?".
    for operation in list(Operation.running):
        operation.cancel()
    QThreadPool.globalInstance().waitForDone(60_000)
    main.close()


def test_pages_and_recommendations(qtbot, window) -> None:
    titles = [window.navigation.item(i).text() for i in range(window.navigation.count())]
    assert titles == ["For you", "Library", "Profile", "Personalization", "Settings"]
    window.navigation.setCurrentRow(0)
    qtbot.waitUntil(lambda: window.for_you.list.count() > 0, timeout=20_000)
    first = window.for_you.list.item(0).text()
    assert " — " in first and "\n" in first  # title — author, then the reasons


def test_library_search_and_import(qtbot, window) -> None:
    window.navigation.setCurrentRow(1)
    everything = window.library.list.count()
    assert everything >= 250
    window.library.query.setText("machado de assis")
    assert 0 < window.library.list.count() < 10
    window.library.start_import(str(GOODREADS))
    qtbot.waitUntil(lambda: window.library.last_report is not None, timeout=20_000)
    report = window.library.last_report
    assert (report.imported, len(report.skipped)) == (5, 3)


def test_book_view_streams_and_records_feedback(qtbot, window, monkeypatch) -> None:
    from gravity_desktop.store.books import get_book

    with opened() as ctx:
        dune = get_book(ctx.conn, "dune-herbert")
    view = window.open_book(dune)
    qtbot.waitUntil(lambda: view.description_id is not None, timeout=60_000)
    assert view.personal.toPlainText().strip()
    assert view.up.isEnabled()
    first_text = view.personal.toPlainText()
    monkeypatch.setattr(QInputDialog, "getMultiLineText",
                        lambda *a, **k: ("Dune, told briefly and warmly.", True))  # fmt: skip
    view.write_preferred()
    assert "1 new preference pair" in view.status.text()
    view.another_version()
    qtbot.waitUntil(lambda: view.up.isEnabled(), timeout=60_000)
    view.feedback("up")
    with opened() as ctx:
        made = pair_store.pairs(ctx.conn, source="feedback")
    assert len(made) == 2
    assert made[1].rejected == first_text
    view.write_base()
    qtbot.waitUntil(lambda: view.base.isVisible() and view.up.isEnabled(), timeout=60_000)
    assert view.base.toPlainText().strip()
    view.close()


def test_personalization_generates_pairs_with_progress(qtbot, window, monkeypatch) -> None:
    from gravity_desktop.ui import personalization_page

    monkeypatch.setattr(
        personalization_page, "load_teacher", lambda ctx, note=None: ("fake", FakeTeacher())
    )
    page = window.personalization
    window.navigation.setCurrentRow(3)
    assert "none yet" in page.counts.text()
    page.books.setValue(2)
    page.scenarios.setValue(2)
    page.start_synthesis()
    qtbot.waitUntil(lambda: page.generate.isEnabled(), timeout=30_000)
    assert page.progress.value() == page.progress.maximum() > 0
    assert re.match(r"Kept \d pairs from 4 units", page.status.text())
    assert "gravity" in page.counts.text()
    page.training_event({"event": "reference", "pairs": 64, "known": 60})
    assert page.status.text() == (
        "Scoring 4 new pairs with the base model (60 kept from earlier runs)…"
    )
    page.training_event({"event": "progress", "step": 1, "max_steps": 4, "loss": 0.69,
                         "reward_accuracy": 0.5, "margin": 0.0, "eta_seconds": 3})  # fmt: skip
    assert page.loss.count() == 1 and page.accuracy.count() == 1


def test_closing_during_long_work_asks_first(qtbot, window, monkeypatch) -> None:
    from gravity_desktop.ui.operations import Operation

    blocker = Operation(window, op=lambda ctx: ctx.cancel_token._event.wait(30), success=bool)
    window.personalization.operation = blocker.run_in_background()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    window.close()
    assert window.isVisible()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.close()
    assert not window.isVisible()
    assert blocker.cancel_token.cancelled  # the work was asked to stop, and was waited for
    assert QThreadPool.globalInstance().activeThreadCount() == 0


def test_garbage_is_collected_by_the_gui_thread_timer(qtbot, qapp) -> None:
    import gc
    import weakref

    from gravity_desktop.ui.app import collect_garbage_on_the_gui_thread

    timer = collect_garbage_on_the_gui_thread(qapp, interval_ms=10)
    try:
        assert not gc.isenabled()

        class Node:
            pass

        cycle = Node()
        cycle.itself = cycle
        alive = weakref.ref(cycle)
        del cycle
        kept = [[] for _ in range(gc.get_threshold()[0] + 1)]  # past the youngest threshold
        assert alive() is not None  # the automatic collector no longer runs
        qtbot.waitUntil(lambda: alive() is None, timeout=5_000)
        del kept
    finally:
        timer.stop()
        gc.enable()
