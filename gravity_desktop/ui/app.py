"""Entry point of the `gravity-desktop` command."""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from gravity_desktop import __version__
from gravity_desktop.config import RESOURCES_DIR, paths

SMOKE_TEST_FLAG = "--smoke-test"


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("GRAVITY Desktop")
    app.setOrganizationName("gravity-desktop")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("gravity-desktop")  # matches installer/linux/gravity-desktop.desktop
    app.setWindowIcon(QIcon(str(RESOURCES_DIR / "icons" / "gravity-desktop.png")))
    return app


def ui_settings() -> QSettings:
    """Window state kept in the data dir, so exporting or deleting the data covers it too."""
    return QSettings(str(paths().root / "window.ini"), QSettings.Format.IniFormat)


def main() -> None:
    smoke_test = SMOKE_TEST_FLAG in sys.argv[1:]
    app = create_application([a for a in sys.argv if a != SMOKE_TEST_FLAG])
    from gravity_desktop.ui.main_window import MainWindow

    window = MainWindow()
    window.show()
    window.start()
    if smoke_test:
        watch_smoke_test(app, window)
    sys.exit(app.exec())


def watch_smoke_test(app: QApplication, window: object) -> None:
    """`--smoke-test`: wait for the served model, print one line, close, exit 0 (loaded) or 1.

    Used by installer/linux/smoke_test.sh on a built bundle. GRAVITY_SMOKE_TIMEOUT (seconds,
    default 120) bounds the wait.
    """
    deadline = time.monotonic() + float(os.environ.get("GRAVITY_SMOKE_TIMEOUT", "120"))
    timer = QTimer(app)

    def check() -> None:
        engine, error = getattr(window, "engine", None), getattr(window, "load_error", "")
        if engine is None and not error and time.monotonic() < deadline:
            return
        timer.stop()
        shown = window.isVisible()
        ok = engine is not None and shown
        if ok:
            line = (
                f"smoke test: ok: main window shown; model {window.model_id} loaded in"
                f" {engine.load_seconds:.2f} s"
            )
        else:
            why = error or ("timed out waiting for the model" if engine is None else "no window")
            line = f"smoke test: FAILED: {why}"
        if sys.stdout is not None:  # a windowed Windows executable has no stdout
            print(line, flush=True)
        window.close()
        app.exit(0 if ok else 1)

    timer.timeout.connect(check)
    timer.start(100)
