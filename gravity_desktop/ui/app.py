"""Entry point of the `gravity-desktop` command."""

from __future__ import annotations

import sys

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from gravity_desktop import __version__
from gravity_desktop.config import paths


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("GRAVITY Desktop")
    app.setOrganizationName("gravity-desktop")
    app.setApplicationVersion(__version__)
    return app


def ui_settings() -> QSettings:
    """Window state kept in the data dir, so exporting or deleting the data covers it too."""
    return QSettings(str(paths().root / "window.ini"), QSettings.Format.IniFormat)


def main() -> None:
    app = create_application()
    from gravity_desktop.ui.main_window import MainWindow

    window = MainWindow()
    window.show()
    window.start()
    sys.exit(app.exec())
