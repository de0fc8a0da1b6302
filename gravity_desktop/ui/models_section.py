"""The Models section of Settings: the registry, downloads, imports, and which models are used.

Downloads and imports run off the GUI thread. A download reports bytes to an inline progress bar
and stops when Cancel is pressed (the partial file stays, so downloading again resumes); the
downloader checks the sha256 before the model counts as installed, and the result says so.
Choosing the served model saves it in Settings and reloads the engine; the teacher is read each
time pairs are generated, so saving it is enough.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from gravity_desktop.app_context import opened
from gravity_desktop.config import Settings
from gravity_desktop.data_archive import format_size
from gravity_desktop.llm.model_files import download_model, import_model
from gravity_desktop.llm.registry import ModelStatus, list_models
from gravity_desktop.ui.operations import Cancelled, Operation, OperationContext
from gravity_desktop.ui.work_section import WorkSection

ROLE_WORDS = {"serve": "descriptions", "teacher": "teacher"}
KB = 1024  # progress travels in kB: Qt's int signals stop at 2 GB


def _status(model: ModelStatus) -> str:
    if model.entry.source.kind == "pip":
        return "bundled with the app" if model.installed else "bundled package missing"
    if model.entry.source.kind == "local":
        return "imported" if model.installed else "imported file missing"
    return "installed" if model.installed else "not downloaded"


class ModelsSection(WorkSection):
    def __init__(self, served_model_changed: Callable[[], object]) -> None:
        super().__init__("Cancel the download", "Download progress")
        self.served_model_changed = served_model_changed
        self.models: list[ModelStatus] = []

        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Model", "Used for", "Size", "Licence", "Status"])
        self.table.setAccessibleName("Models")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.download = QPushButton("Download")
        self.download.setAccessibleName("Download the selected model")
        self.download.clicked.connect(self.start_download)
        self.import_button = QPushButton("Import a GGUF…")
        self.import_button.setAccessibleName("Import a GGUF model file")
        self.import_button.clicked.connect(self.choose_import)

        self.served = QComboBox()
        self.served.setAccessibleName("Model that writes descriptions")
        self.served.activated.connect(lambda _: self._chosen(self.served, "serve_model"))
        self.teacher = QComboBox()
        self.teacher.setAccessibleName("Teacher model for preference pairs")
        self.teacher.activated.connect(lambda _: self._chosen(self.teacher, "teacher_model"))
        note = QLabel(
            "An adapter is trained for one model: after switching, descriptions come from the"
            " new model alone until you train again. A larger teacher writes better pairs, more"
            " slowly."
        )
        note.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Writes descriptions:", self.served)
        form.addRow("Teacher for pairs:", self.teacher)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(self.action_row(self.download, self.import_button))
        layout.addWidget(self.status)
        layout.addLayout(form)
        layout.addWidget(note)
        self._set_busy(False)

    # -- the list ---------------------------------------------------------------------------

    def refresh(self) -> None:
        with opened() as ctx:
            self.models = list_models(ctx.paths, ctx.conn)
            settings = ctx.settings
        self.table.setRowCount(len(self.models))
        for row, model in enumerate(self.models):
            entry = model.entry
            cells = [
                entry.name,
                ", ".join(ROLE_WORDS.get(role, role) for role in entry.roles),
                format_size(model.size) if model.size else "unknown",
                entry.licence,
                _status(model),
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{entry.id}: {entry.notes or entry.source.describe()}")
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        height = self.table.horizontalHeader().height() + 2 * self.table.frameWidth()
        height += sum(self.table.rowHeight(row) for row in range(self.table.rowCount()))
        self.table.setFixedHeight(height)
        default = next((m.entry.id for m in self.models if m.entry.default), "")
        self._fill(self.served, "serve", settings.serve_model or default)
        self._fill(self.teacher, "teacher", settings.teacher_model or default)
        self._update_buttons()

    def _fill(self, combo: QComboBox, role: str, current: str) -> None:
        """Installed models with the role; a chosen model that is missing is listed as such."""
        combo.clear()
        for model in self.models:
            if role in model.entry.roles and (model.installed or model.entry.id == current):
                missing = "" if model.installed else " (not installed)"
                combo.addItem(model.entry.name + missing, model.entry.id)
        combo.setCurrentIndex(max(combo.findData(current), 0))

    def selected(self) -> ModelStatus | None:
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows else None

    def select(self, model_id: str) -> None:
        for row, model in enumerate(self.models):
            if model.entry.id == model_id:
                self.table.selectRow(row)

    def _update_buttons(self) -> None:
        model = self.selected()
        downloadable = (
            model is not None and model.entry.source.kind == "huggingface" and not model.installed
        )
        self.download.setEnabled(not self.busy and downloadable)
        self.import_button.setEnabled(not self.busy)

    # -- choosing ---------------------------------------------------------------------------

    def _chosen(self, combo: QComboBox, field: str) -> None:
        model_id = combo.currentData()
        settings = Settings.load()
        if getattr(settings, field) == model_id:
            return
        setattr(settings, field, model_id)
        settings.save()
        if field == "serve_model":
            self.say(f"Descriptions now come from {combo.currentText()}; loading it…")
            self.served_model_changed()
        else:
            self.say(f"Pairs will be written by {combo.currentText()}.")

    # -- downloading and importing -----------------------------------------------------------

    def start_download(self) -> Operation | None:
        model = self.selected()
        if model is None:
            return None
        name = model.entry.name

        def op(context: OperationContext) -> object:
            def progress(done: int, total: int) -> None:
                context.check_cancelled()
                context.progress(done // KB, total // KB, "")

            try:
                with opened() as ctx:
                    return download_model(ctx.paths, ctx.conn, model, progress=progress)
            except Cancelled:
                return None

        def done(record: object) -> None:
            if record is None:
                self._ended(f"Download of {name} stopped; downloading again resumes it.")
            else:
                self._ended(
                    f"Downloaded {name}: {format_size(record.size)}, checksum verified"
                    f" (sha256 {record.sha256[:12]}…)."
                )

        def progress(done_kb: int, total_kb: int, _: str) -> None:
            self.progress.setMaximum(total_kb)
            self.progress.setValue(done_kb)
            shown = f" of {format_size(total_kb * KB)}" if total_kb else ""
            self.say(f"Downloading {name}: {format_size(done_kb * KB)}{shown}…")

        self.progress.setRange(0, 0)
        self.say(f"Connecting to download {name}…")
        self.operation = Operation(self, op=op, success=done, failure=self._failed("Download"))
        self.operation.on_progress(progress)
        self._set_busy(True, cancellable=True)
        return self.operation.run_in_background()

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a GGUF model", str(Path.home()), "GGUF model (*.gguf);;All files (*)"
        )
        if path:
            self.start_import(Path(path))

    def start_import(self, source: Path) -> Operation:
        def op(_: OperationContext) -> object:
            with opened() as ctx:
                return import_model(ctx.paths, ctx.conn, source)

        def done(record: object) -> None:
            self._ended(
                f"Imported {source.name} as {record.id} ({record.arch},"
                f" {format_size(record.size)}). Choose it below to use it."
            )
            self.select(record.id)

        self.progress.setRange(0, 0)  # a copy reports no progress; the bar says "working"
        self.say(f"Checking and copying {source.name}…")
        self.operation = Operation(self, op=op, success=done, failure=self._failed("Import"))
        self._set_busy(True)
        return self.operation.run_in_background()
