"""The "Your data" section of Settings: export it to one archive, or delete all of it.

Deleting asks first in a dialog that lists exactly what goes (read from the data dir and the
database at that moment), offers to export before, and only enables its destructive button once
the reader has typed DELETE. The deletion itself belongs to the main window, which must first stop
the work and close every connection and model that holds the folder open.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gravity_desktop.app_context import opened
from gravity_desktop.config import paths
from gravity_desktop.data_archive import (
    ExportReport,
    data_counts,
    data_entries,
    export_data,
    format_size,
)
from gravity_desktop.ui.operations import Operation, OperationContext

CONFIRM_WORD = "DELETE"
KB = 1024  # progress travels in kB: Qt's int signals stop at 2 GB

COUNT_WORDS = {
    "answers": "answers to the questionnaire",
    "profile_versions": "profile versions",
    "readings": "books in your reading history",
    "pairs": "preference pairs",
    "descriptions": "descriptions written for you",
    "feedback": "thumbs up or down",
}


def export_summary(report: ExportReport) -> str:
    counts = "; ".join(f"{words}: {report.counts[key]}" for key, words in COUNT_WORDS.items())
    return (
        f"Exported to {report.path} ({format_size(report.size)}). {counts}; trained adapters:"
        f" {report.counts.get('adapters', 0)}; and your settings. Model weights are not included;"
        " they can be downloaded or imported again."
    )


class DeleteDataDialog(QDialog):
    """Says what will be deleted and asks for DELETE to be typed before it can be confirmed."""

    def __init__(self, parent: QWidget, root: Path, export_first: Callable[[], object]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Delete my data")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        with opened() as ctx:
            counts = data_counts(ctx.conn)
        entries = data_entries(root)
        counted = "".join(
            f"<li>{words}: {counts[key]}</li>" for key, words in COUNT_WORDS.items() if counts[key]
        )
        files = "".join(f"<li>{html.escape(entry.describe())}</li>" for entry in entries)
        text = QLabel(
            f"<p>This permanently deletes everything GRAVITY Desktop keeps in"
            f" <b>{html.escape(str(root))}</b>, including:</p><ul>{counted}</ul>"
            f"<p>These files and folders, all of them:</p><ul>{files}</ul>"
            "<p>The bundled model stays: it belongs to the app, not to your data. Nothing is"
            " kept anywhere else, so this cannot be undone. GRAVITY Desktop closes when it is"
            " done; the next start begins again with the welcome page.</p>"
        )
        text.setObjectName("deleteSummary")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary = text

        self.export_button = QPushButton("Export first…")
        self.export_button.setAccessibleName("Export my data before deleting it")
        self.export_button.clicked.connect(export_first)
        self.export_status = QLabel("Keep a copy: the archive can be kept anywhere you like.")
        self.export_status.setWordWrap(True)
        export_row = QHBoxLayout()
        export_row.addWidget(self.export_button)
        export_row.addWidget(self.export_status, 1)

        self.confirmation = QLineEdit()
        self.confirmation.setPlaceholderText(f"Type {CONFIRM_WORD} to confirm")
        self.confirmation.setAccessibleName(f"Type {CONFIRM_WORD} to confirm the deletion")
        prompt = QLabel(f"To delete all of it, type <b>{CONFIRM_WORD}</b>:")
        prompt.setBuddy(self.confirmation)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.delete_button = self.buttons.addButton(
            "Delete everything", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.delete_button.setAccessibleName("Delete all my data now")
        self.delete_button.setEnabled(False)
        self.delete_button.setAutoDefault(False)
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel: keep my data")
        cancel.setDefault(True)
        self.confirmation.textChanged.connect(
            lambda typed: self.delete_button.setEnabled(typed.strip().upper() == CONFIRM_WORD)
        )
        self.delete_button.clicked.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(export_row)
        layout.addWidget(prompt)
        layout.addWidget(self.confirmation)
        layout.addWidget(self.buttons)
        self.resize(640, self.sizeHint().height())


class DataSection(QWidget):
    def __init__(self, delete_everything: Callable[[], object]) -> None:
        super().__init__()
        self.delete_everything = delete_everything
        self.dialog: DeleteDataDialog | None = None
        self.last_export: ExportReport | None = None
        where = QLabel(
            f"Everything GRAVITY Desktop keeps is in one folder on this computer:"
            f" <b>{html.escape(str(paths().root))}</b>"
        )
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Export my data…")
        self.export_button.setAccessibleName("Export my data to an archive")
        self.export_button.clicked.connect(self.choose_export)
        self.delete_button = QPushButton("Delete my data…")
        self.delete_button.setAccessibleName("Delete my data")
        self.delete_button.clicked.connect(self.confirm_delete)
        explain = QLabel(
            "The export is one zip archive with your answers, profile versions, reading history,"
            " pairs, descriptions, feedback, trained adapters and settings (not the model"
            " weights, which can be downloaded again)."
        )
        explain.setWordWrap(True)
        self.status = QLabel("")
        self.status.setObjectName("dataStatus")
        self.status.setWordWrap(True)
        self.status.hide()  # until there is an export to tell about
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(where)
        layout.addWidget(explain)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

    def choose_export(self) -> None:
        suggested = Path.home() / f"gravity-data-{time.strftime('%Y-%m-%d')}.zip"
        chosen, _ = QFileDialog.getSaveFileName(
            self.dialog or self, "Export my data", str(suggested), "Zip archive (*.zip)"
        )
        if chosen:
            target = Path(chosen)
            self.start_export(target if target.suffix else target.with_suffix(".zip"))

    def start_export(self, target: Path) -> Operation:
        def op(context: OperationContext) -> ExportReport:
            def progress(done: int, total: int, name: str) -> None:
                context.check_cancelled()  # raising here removes the unfinished archive
                context.progress(done // KB, total // KB, f"Exporting your data: {name}")

            with opened() as ctx:
                return export_data(ctx.paths, ctx.conn, target, progress)

        def done(report: ExportReport) -> None:
            self.last_export = report
            self.status.setText(export_summary(report))
            self.status.show()
            if self.dialog is not None:
                self.dialog.export_status.setText(export_summary(report))

        return (
            Operation(self.dialog or self.window(), op=op, success=done)
            .with_progress("Exporting your data…")
            .run_in_background()
        )

    def confirm_delete(self) -> DeleteDataDialog:
        self.dialog = DeleteDataDialog(self.window(), paths().root, self.choose_export)
        self.dialog.accepted.connect(self.delete_everything)
        self.dialog.finished.connect(self._dialog_closed)
        self.dialog.open()
        return self.dialog

    def _dialog_closed(self) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None
