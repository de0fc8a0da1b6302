"""Screenshots of every main page, and the accessibility pass: names, tooltips, keys, fit.

The PNGs go to `<pytest's base temp>/screenshots/` (printed with -s), or to the folder named by
GRAVITY_SCREENSHOTS; never into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCharts import QChart, QChartView
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QScrollBar,
    QTextEdit,
    QWidget,
)

from gravity_desktop.app_context import opened
from gravity_desktop.profile.answers import parse_answers
from gravity_desktop.profile.service import onboard
from gravity_desktop.store.books import get_book
from gravity_desktop.ui.operations import Operation
from tests.answer_patterns import all_answers

SCREEN = QSize(1280, 800)
PAGES = ["For you", "Library", "Profile", "Personalization", "Settings"]
INTERACTIVE = (QAbstractButton, QComboBox, QLineEdit, QAbstractSpinBox, QAbstractItemView,
               QTextEdit, QAbstractSlider, QChartView)  # fmt: skip


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("GRAVITY_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots in {folder}")
    return folder


@pytest.fixture
def larger_font(qapp):
    original = qapp.font()
    font = QFont(original)
    font.setPointSizeF(13)
    qapp.setFont(font)
    yield font
    qapp.setFont(original)


def onboarded() -> None:
    with opened() as ctx:
        onboard(ctx.conn, parse_answers({
            "country": "IN", "answers": all_answers({"C": True, "tradition": True}),
            "interests": {"genres": ["historical fiction", "poetry"]},
        }))  # fmt: skip


def open_window(qtbot, load_model: bool):
    from gravity_desktop.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(SCREEN)
    window.show()
    if load_model:
        window.start()
        qtbot.waitUntil(lambda: bool(window.engine or window.load_error), timeout=60_000)
    else:
        with opened() as ctx:
            from gravity_desktop.profile.service import current_profile

            window.profile_view.show_profile(current_profile(ctx.conn).as_json())
    return window


def show_page(qtbot, window, title: str) -> None:
    window.navigation.setCurrentRow(PAGES.index(title))
    qtbot.waitUntil(lambda: not Operation.running, timeout=30_000)
    qtbot.wait(100)  # word-wrapped labels settle their height in a second layout pass


def save(widget: QWidget, file: Path) -> QImage:
    image = widget.grab().toImage()
    assert image.save(str(file)), file
    colors = {image.pixel(x, y) for x in range(0, image.width(), 16)
              for y in range(0, image.height(), 16)}  # fmt: skip
    assert len(colors) > 8, f"{file.name} looks blank"
    return image


def unnamed_controls(root: QWidget, visible_only: bool = True) -> list[str]:
    """Interactive widgets without an accessible name (parts inside another control excepted)."""
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or isinstance(widget, QScrollBar):
            continue  # a scroll bar belongs to its scroll area, which Qt names
        if visible_only and not widget.isVisible():
            continue
        parent, inner = widget.parentWidget(), False
        while parent is not None and parent is not root:
            inner = inner or isinstance(parent, INTERACTIVE)
            parent = parent.parentWidget()
        if inner:
            continue
        if not widget.accessibleName():
            label = getattr(widget, "text", lambda: "")()
            missing.append(f"{type(widget).__name__} {widget.objectName()!r} {label!r}")
    return missing


def stop_all_work(qtbot) -> None:
    """Cancel what still runs, so that closing the window does not stop to ask."""
    for operation in list(Operation.running):
        operation.cancel()
    qtbot.waitUntil(lambda: not Operation.running, timeout=60_000)


def test_screenshot_of_every_page_and_a_book(qtbot, screenshots: Path) -> None:
    onboarded()
    window = open_window(qtbot, load_model=True)
    try:
        assert window.engine is not None, window.load_error
        for index, title in enumerate(PAGES, start=1):
            show_page(qtbot, window, title)
            image = save(window, screenshots / f"{index}-{title.lower().replace(' ', '-')}.png")
            assert image.size() == SCREEN
        with opened() as ctx:
            book = get_book(ctx.conn, "dune-herbert")
        view = window.open_book(book)
        qtbot.waitUntil(lambda: view.personal.toPlainText().strip() != "", timeout=120_000)
        try:  # the whole description when the machine is not too busy to write it quickly
            qtbot.waitUntil(lambda: view.description_id is not None, timeout=60_000)
        except qtbot.TimeoutError:
            stop_all_work(qtbot)
        save(view, screenshots / "6-book.png")
        assert sorted(p.name for p in screenshots.glob("[1-6]-*.png")) == [
            "1-for-you.png", "2-library.png", "3-profile.png", "4-personalization.png",
            "5-settings.png", "6-book.png"]  # fmt: skip
    finally:
        stop_all_work(qtbot)
        window.close()


def test_every_control_is_named_and_fits_in_a_larger_font(
    qtbot, larger_font, screenshots: Path
) -> None:
    from gravity_desktop.ui.book_view import BookView
    from gravity_desktop.ui.onboarding import OnboardingWizard

    onboarded()
    window = open_window(qtbot, load_model=False)
    assert window.font().pointSizeF() == 13
    hint = window.minimumSizeHint()
    assert hint.width() <= SCREEN.width() and hint.height() <= SCREEN.height(), hint
    assert window.navigation.accessibleName() and window.navigation.focusPolicy() & (
        Qt.FocusPolicy.TabFocus
    )
    for title in PAGES:
        show_page(qtbot, window, title)
        page = window.pages.currentWidget()
        assert unnamed_controls(page) == [], title
        save(window, screenshots / f"13pt-{title.lower().replace(' ', '-')}.png")
    for name, view in window.profile_view.views.items():
        assert view.toolTip() and view.accessibleDescription(), name
    assert "Openness" in window.profile_view.views["ocean"].toolTip()
    assert window.personalization.chart_view.toolTip()

    with opened() as ctx:
        book = get_book(ctx.conn, "one-hundred-years-of-solitude-garcia-marquez")
    view = BookView(window, book, window)
    qtbot.addWidget(view)
    view.show()
    assert unnamed_controls(view) == []
    assert view.minimumSizeHint().height() <= SCREEN.height()

    dialog = window.settings.data.confirm_delete()
    assert unnamed_controls(dialog) == []
    assert dialog.minimumSizeHint().height() <= SCREEN.height()
    dialog.reject()

    with opened() as ctx:
        wizard = OnboardingWizard(ctx.conn)
        qtbot.addWidget(wizard)
        wizard.show()
        for page_id in wizard.pageIds():
            assert unnamed_controls(wizard.page(page_id), visible_only=False) == [], page_id
        assert unnamed_controls(wizard) == []
        assert wizard.minimumSizeHint().height() <= SCREEN.height()
        wizard.close()
    window.close()


def test_keyboard_reaches_the_navigation_and_every_page(qtbot) -> None:
    onboarded()
    window = open_window(qtbot, load_model=False)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    for number, title in enumerate(PAGES, start=1):
        qtbot.keyClick(window, getattr(Qt.Key, f"Key_{number}"),
                       Qt.KeyboardModifier.ControlModifier)  # fmt: skip
        assert window.navigation.currentItem().text() == title
    window.navigation.setFocus()
    qtbot.keyClick(window.navigation, Qt.Key.Key_Up)
    assert window.navigation.currentItem().text() == "Personalization"
    qtbot.keyClick(window.navigation, Qt.Key.Key_Tab)
    assert window.personalization.isAncestorOf(QApplication.focusWidget())
    window.close()


def test_charts_follow_a_dark_system_scheme(qtbot, monkeypatch) -> None:
    from gravity_desktop.ui import theme
    from gravity_desktop.ui.profile_view import ProfileView

    onboarded()
    monkeypatch.setattr(theme, "color_scheme", lambda: Qt.ColorScheme.Dark)
    view = ProfileView()
    qtbot.addWidget(view)
    with opened() as ctx:
        from gravity_desktop.profile.service import current_profile

        view.show_profile(current_profile(ctx.conn).as_json())
    assert {chart.theme() for chart in view.charts.values()} == {QChart.ChartTheme.ChartThemeDark}
    assert theme.scheme_name() == "dark"
