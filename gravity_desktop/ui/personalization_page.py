"""Personalization: pair counts, generating pairs, training with a live chart, adapter history.

Synthesis runs on a thread (llama.cpp); training runs in the worker process, whose JSON events
are relayed here to draw loss and reward accuracy as they come. Both can be cancelled; both
resume where they stopped. `personalize` chains the two, for "Personalize now" after onboarding.
With a GPU helper turned on in Settings, *Train now* trains there by default (the same events,
plus the helper's own steps as status text); a helper failure offers to train on this computer.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gravity_desktop.app_context import opened
from gravity_desktop.config import Settings
from gravity_desktop.errors import UserError
from gravity_desktop.gravity.synthesis import SynthesisRequest, pair_stats, synthesize
from gravity_desktop.llm.serving import load_teacher
from gravity_desktop.profile.service import current_profile
from gravity_desktop.store import adapters as adapter_store
from gravity_desktop.training.config import TrainConfig
from gravity_desktop.training.helper_access import helper_choice
from gravity_desktop.training.job import activate_adapter, reference_note, rollback, run_training
from gravity_desktop.ui.operations import Operation, OperationContext, show_error
from gravity_desktop.ui.theme import chart_theme

HELPER_STEPS: dict[str, Callable[[dict], str]] = {  # what the GPU helper's own events say
    "uploading": lambda e: (
        f"Sending the base model to the GPU helper ({float(e.get('bytes') or 0) / 1e6:.0f} MB;"
        " only the first time)…"
    ),
    "uploading_weights": lambda e: (
        f"Sending the model's Hugging Face weights to the GPU helper"
        f" ({float(e.get('bytes') or 0) / 1e6:.0f} MB; only the first time)…"
    ),
    "accepted": lambda e: f"The GPU helper took the job ({e.get('pairs', '?')} training pairs)…",
    "start": lambda e: (
        f"Training on the GPU helper's {e.get('gpu') or e.get('device') or 'device'}"
        f"{_spread(e)}, preparing the model…"
    ),
    "exporting": lambda e: "The GPU helper is converting the adapter for llama.cpp…",
    "exported": lambda e: (
        f"The adapter is ready on the GPU helper ({float(e.get('size') or 0) / 1e6:.1f} MB)…"
    ),
    "downloading": lambda e: "Fetching the adapter from the GPU helper…",
}


def _spread(event: dict) -> str:
    processes = int(event.get("processes") or 1)
    return f" ({processes} processes)" if processes > 1 else ""


class PersonalizationPage(QWidget):
    def __init__(self, adapters_changed: Callable[[], None]) -> None:
        super().__init__()
        self.adapters_changed = adapters_changed
        self.operation: Operation | None = None
        self.fallback_offer: QMessageBox | None = None
        self.helper_url: str | None = None  # set while a GPU helper is turned on in Settings
        self.training_on: str | None = None  # the helper of the training running, if any
        self.counts = QLabel()
        self.counts.setObjectName("pairCounts")
        self.counts.setWordWrap(True)
        self.method = QComboBox()
        self.method.addItems(["gravity", "naive", "sft"])
        self.method.setAccessibleName("Method for pairs and training")
        self.books = QSpinBox()
        self.books.setRange(1, 200)
        self.books.setValue(8)
        self.books.setAccessibleName("Books to write pairs for")
        self.scenarios = QSpinBox()
        self.scenarios.setRange(1, 10)
        self.scenarios.setValue(4)
        self.scenarios.setAccessibleName("Scenarios per book")
        self.generate = QPushButton("Generate pairs")
        self.generate.setAccessibleName("Generate pairs")
        self.train = QPushButton("Train now")
        self.train.setAccessibleName("Train now")
        self.cancel = QPushButton("Cancel")
        self.cancel.setAccessibleName("Cancel generating or training")
        self.cancel.setEnabled(False)
        self.generate.clicked.connect(lambda: self.start_synthesis())
        self.train.clicked.connect(lambda: self.start_training())
        self.train_where = QComboBox()
        self.train_where.setAccessibleName("Where to train")
        self.train_where.setToolTip(
            "Train on the GPU helper turned on in Settings (it receives the training pairs and"
            " settings, nothing else), or on this computer."
        )
        self.train_where.hide()  # until a GPU helper is turned on
        self.cancel.clicked.connect(lambda: self.operation and self.operation.cancel())
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Progress of generating or training")
        self.status = QLabel("")
        self.status.setWordWrap(True)

        self.loss = QLineSeries()
        self.loss.setName("loss")
        self.accuracy = QLineSeries()
        self.accuracy.setName("reward accuracy")
        chart = QChart()
        chart.setTheme(chart_theme())
        chart.setTitle("Training")
        chart.addSeries(self.loss)
        chart.addSeries(self.accuracy)
        self.axis_x, self.axis_y = QValueAxis(), QValueAxis()
        self.axis_x.setTitleText("step")
        self.axis_y.setRange(0, 1)
        chart.addAxis(self.axis_x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.axis_y, Qt.AlignmentFlag.AlignLeft)
        for series in (self.loss, self.accuracy):
            series.attachAxis(self.axis_x)
            series.attachAxis(self.axis_y)
        self.chart = chart
        self.chart_view = QChartView(chart)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(220)
        self.chart_view.setAccessibleName("Training chart")
        self.chart_view.setToolTip(
            "Loss (lower is better) and reward accuracy (the share of training pairs where the"
            " model already prefers the chosen description) for each training step."
        )

        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["adapter", "method", "pairs", "held-out", "active"])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setAccessibleName("Trained adapters")
        activate = QPushButton("Activate selected")
        activate.setAccessibleName("Activate the selected adapter")
        activate.clicked.connect(self.activate_selected)
        undo = QPushButton("Roll back")
        undo.setAccessibleName("Roll back to the previous adapter")
        undo.clicked.connect(self.roll_back)

        form = QFormLayout()
        form.addRow("Method", self.method)
        form.addRow("Books", self.books)
        form.addRow("Scenarios per book", self.scenarios)
        actions = QHBoxLayout()
        for button in (self.generate, self.train, self.train_where, self.cancel):
            actions.addWidget(button)
        actions.addStretch(1)
        adapter_actions = QHBoxLayout()
        adapter_actions.addWidget(activate)
        adapter_actions.addWidget(undo)
        adapter_actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.counts)
        layout.addLayout(form)
        layout.addLayout(actions)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.chart_view, 1)
        layout.addWidget(self.table)
        layout.addLayout(adapter_actions)

    def refresh(self) -> None:
        with opened() as ctx:
            data = pair_stats(ctx.conn)
            adapters = adapter_store.all_adapters(ctx.conn)
            active = adapter_store.active(ctx.conn)
        synthetic = {k: v for k, v in data["pairs"].items() if not k.startswith("feedback")}
        real = sum(v for k, v in data["pairs"].items() if k.startswith("feedback"))
        shown = ", ".join(f"{k.split('/')[0]} {v}" for k, v in synthetic.items()) or "none yet"
        self.counts.setText(f"Synthetic pairs: {shown}. Real pairs from your feedback: {real}.")
        self.table.setRowCount(len(adapters))
        for row, adapter in enumerate(adapters):
            accuracy = adapter.heldout_accuracy
            cells = [adapter.id, adapter.method, str(adapter.pairs),
                     "?" if accuracy is None else f"{accuracy:.2f}",
                     "yes" if active and active.id == adapter.id else ""]  # fmt: skip
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.refresh_training_places()

    def refresh_training_places(self) -> None:
        """Offer the GPU helper next to *Train now* while it is turned on (and as the default)."""
        choice = helper_choice(Settings.load())
        url = choice.url if choice is not None and choice.enabled else None
        if url == self.helper_url:
            return  # keep the reader's pick
        self.helper_url = url
        self.train_where.clear()
        if url is not None:
            self.train_where.addItem("on the GPU helper", url)
            self.train_where.addItem("on this computer", None)
            self.train_where.setItemData(0, f"the GPU helper at {url}", Qt.ItemDataRole.ToolTipRole)
        self.train_where.setVisible(url is not None)

    def _busy(self, busy: bool) -> None:
        self.generate.setEnabled(not busy)
        self.train.setEnabled(not busy)
        self.cancel.setEnabled(busy)

    def _ended(self, message: str) -> None:
        self._busy(False)
        self.status.setText(message)
        self.refresh()

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        show_error(self, exc)
        self.refresh()

    def personalize(self) -> Operation:
        """Generate pairs, then train on them: the whole first personalization in one go."""
        return self.start_synthesis(then=self.start_training)

    def start_synthesis(self, then: Callable[[], object] | None = None) -> Operation:
        """Write pairs; `then` runs after a run that was not stopped (training, for one)."""
        request = SynthesisRequest(
            self.method.currentText(), self.books.value(), self.scenarios.value(), seed=0
        )

        def op(context: OperationContext) -> object:
            with opened() as ctx:
                teacher_id, engine = load_teacher(
                    ctx, note=lambda text: context.progress(0, 0, text)
                )
                try:
                    return synthesize(
                        ctx.conn, engine, teacher_id, current_profile(ctx.conn), request,
                        progress=lambda p: context.progress(p.done, p.total, p.book_title),
                        cancel=context.cancel_token,
                    )  # fmt: skip
                finally:
                    engine.close()

        def done(report: object) -> None:
            stopped = " Stopped; generate again to resume." if report.stopped else ""
            self._ended(
                f"Kept {report.kept} pairs from {report.settled} units"
                f" ({report.pairs_per_minute:.1f} pairs per minute).{stopped}"
            )
            if then is not None and not report.stopped:
                then()

        def progress(done_: int, total: int, title: str) -> None:
            self.progress.setMaximum(total)
            self.progress.setValue(done_)
            self.status.setText(f"Writing pairs… {title}")

        self._busy(True)
        self.operation = (
            Operation(self, op=op, success=done, failure=self._failed)
            .on_progress(progress)
            .run_in_background()
        )
        return self.operation

    def start_training(self, on_helper: bool | None = None) -> Operation:
        """Train on the GPU helper or on this computer; None: as chosen next to *Train now*."""
        config = TrainConfig(method=self.method.currentText())
        helper = self.train_where.currentData() if on_helper is not False else None
        if on_helper and helper is None:
            helper = self.helper_url
        self.training_on = helper
        self.loss.clear()
        self.accuracy.clear()

        def op(context: OperationContext) -> object:
            with opened() as ctx:
                if helper is None:
                    return run_training(ctx, config, on_event=context.report,
                                        cancel=context.cancel_token)  # fmt: skip
                return run_training(ctx, config, on_event=context.report,
                                    cancel=context.cancel_token, helper=helper)  # fmt: skip

        def done(result: object) -> None:
            self._ended(result.message)
            if result.activated:
                self.adapters_changed()

        self._busy(True)
        where = f" on the GPU helper at {helper}" if helper else ""
        self.status.setText(f"Preparing training{where}…")
        failed = self._failed if helper is None else self._helper_failed
        self.operation = (
            Operation(self, op=op, success=done, failure=failed)
            .on_report(self.training_event)
            .run_in_background()
        )
        return self.operation

    def _helper_failed(self, exc: BaseException) -> None:
        """Say what went wrong on the helper, and offer to train on this computer instead."""
        self._busy(False)
        self.refresh()
        text = str(exc) if isinstance(exc, UserError) else f"Something went wrong: {exc}"
        self.status.setText(f"Training on the GPU helper failed: {text}")
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Training on the GPU helper failed")
        box.setText(text)
        box.setInformativeText("Nothing was activated. Train on this computer instead?")
        local = box.addButton("Train on this computer", QMessageBox.ButtonRole.AcceptRole)
        local.setAccessibleName("Train on this computer instead")
        close = box.addButton(QMessageBox.StandardButton.Close)
        close.setAccessibleName("Close: do not train now")
        box.setDefaultButton(close)
        local.clicked.connect(lambda: self.start_training(on_helper=False))
        self.fallback_offer = box
        box.open()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:  # the system switched light and dark
            self.chart.setTheme(chart_theme())
        super().changeEvent(event)

    def training_event(self, event: object) -> None:
        kind = event.get("event")
        if kind == "progress":
            step = float(event["step"])
            self.progress.setMaximum(int(event["max_steps"]))
            self.progress.setValue(int(step))
            self.axis_x.setRange(0, max(float(event["max_steps"]), 1.0))
            if event.get("loss") is not None:
                self.loss.append(step, float(event["loss"]))
                self.axis_y.setRange(0, max(1.0, *(p.y() for p in self.loss.points())))
            if event.get("reward_accuracy") is not None:
                self.accuracy.append(step, float(event["reward_accuracy"]))
            eta = event.get("eta_seconds")
            left = f", about {float(eta):.0f} s left" if eta is not None else ""
            self.status.setText(f"Training: step {event['step']} of {event['max_steps']}{left}")
        elif kind in ("base_ready", "resume", "restart", "evaluating"):
            self.status.setText(
                {"base_ready": "Model ready, training…",
                 "resume": f"Resuming from {event.get('checkpoint')}…",
                 "restart": f"Starting clean: {event.get('reason')}",
                 "evaluating": "Checking the new adapter on held-out pairs…"}[kind]
            )  # fmt: skip
        elif kind == "reference":
            self.status.setText(reference_note(event))
        elif kind in HELPER_STEPS and (kind != "start" or self.training_on is not None):
            self.status.setText(HELPER_STEPS[kind](event))

    def _selected_adapter(self) -> str | None:
        row = self.table.currentRow()
        return self.table.item(row, 0).text() if row >= 0 else None

    def activate_selected(self) -> None:
        chosen = self._selected_adapter()
        if chosen is None:
            return
        try:
            with opened() as ctx:
                activate_adapter(ctx, chosen)
        except Exception as exc:
            show_error(self, exc)
            return
        self.refresh()
        self.adapters_changed()

    def roll_back(self) -> None:
        try:
            with opened() as ctx:
                rollback(ctx)
        except Exception as exc:
            show_error(self, exc)
            return
        self.refresh()
        self.adapters_changed()
