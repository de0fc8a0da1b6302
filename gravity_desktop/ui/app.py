"""Entry point of the `gravity-desktop` command."""

from __future__ import annotations

import gc
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


def collect_garbage_on_the_gui_thread(app: QApplication, interval_ms: int = 500) -> QTimer:
    """Run Python's cyclic garbage collector from a GUI-thread timer instead of automatically.

    The automatic collector runs in whichever thread happens to allocate when a threshold is
    crossed: a model-loading or generation worker, say. A cycle holding a Qt object freed there
    destroys that object off the GUI thread, which can crash the app (a test run died that way).
    The timer applies the collector's own thresholds, so memory is reclaimed as often as before,
    only always here.
    """
    thresholds = gc.get_threshold()
    gc.disable()
    timer = QTimer(app)

    def collect() -> None:
        counts = gc.get_count()
        for generation in (2, 1, 0):  # the oldest generation due takes the younger ones along
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return

    timer.timeout.connect(collect)
    timer.start(interval_ms)
    return timer


def ui_settings() -> QSettings:
    """Window state kept in the data dir, so exporting or deleting the data covers it too."""
    return QSettings(str(paths().root / "window.ini"), QSettings.Format.IniFormat)


def main() -> None:
    smoke_test = SMOKE_TEST_FLAG in sys.argv[1:]
    app = create_application([a for a in sys.argv if a != SMOKE_TEST_FLAG])
    collect_garbage_on_the_gui_thread(app)
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
