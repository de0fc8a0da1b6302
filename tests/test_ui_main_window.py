from __future__ import annotations

from pathlib import Path

from gravity_desktop.config import Settings, paths


def test_window_opens_with_the_default_model_loaded(qtbot) -> None:
    from gravity_desktop.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: bool(window.engine or window.load_error), timeout=60_000)
    assert window.engine is not None, window.load_error
    assert "SmolLM2" in window.model_label.text()
    assert window.model_label.text().startswith("Model loaded: ")
    window.close()


def test_window_opens_and_says_which_model_it_could_not_load(qtbot, tmp_path: Path) -> None:
    from gravity_desktop.ui.main_window import MainWindow

    settings = Settings(serve_model="qwen2.5-3b-instruct-q4_k_m")
    settings.save(paths())
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: bool(window.load_error), timeout=30_000)
    assert window.engine is None
    assert "qwen2.5-3b-instruct-q4_k_m" in window.model_label.text()
    assert "not installed" in window.model_label.text()
    window.close()


def test_window_geometry_is_remembered(qtbot) -> None:
    from gravity_desktop.ui.main_window import MainWindow

    first = MainWindow()
    qtbot.addWidget(first)
    first.resize(777, 555)
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (777, 555)
    assert (paths().root / "window.ini").exists()  # kept in the data dir
    second.close()
