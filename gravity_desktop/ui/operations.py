"""One small pattern for slow work: run it off the GUI thread, show progress, allow cancel.

Modelled on Anki's `QueryOp`: `Operation(parent, op=..., success=...).with_progress("...")
.run_in_background()`. `op` receives an `OperationContext` to report progress and to notice a
cancel; `success` runs on the GUI thread with the result; failures open a readable dialog
with the details folded away.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from gravity_desktop.errors import UserError
from gravity_desktop.llm.engine import CancelToken


class Cancelled(Exception):
    """Raised inside an operation that noticed its cancel request."""


class OperationContext:
    def __init__(self, signals: _Signals, cancel: CancelToken) -> None:
        self._signals = signals
        self.cancel_token = cancel

    def progress(self, done: int, total: int, label: str = "") -> None:
        self._signals.progress.emit(done, total, label)

    def report(self, value: object) -> None:
        """Send anything (a streamed text piece, a training event) to the GUI thread."""
        self._signals.reported.emit(value)

    def check_cancelled(self) -> None:
        if self.cancel_token.cancelled:
            raise Cancelled


class _Signals(QObject):
    succeeded = Signal(object)
    failed = Signal(object, str)
    progress = Signal(int, int, str)
    reported = Signal(object)


class _Runner(QRunnable):
    def __init__(self, op: Callable[[OperationContext], Any], context: OperationContext) -> None:
        super().__init__()
        self._op = op
        self._context = context
        self.signals = context._signals

    def run(self) -> None:
        try:
            result = self._op(self._context)
        except BaseException as exc:
            self.signals.failed.emit(exc, traceback.format_exc())
        else:
            self.signals.succeeded.emit(result)


class Operation:
    """A slow call run on the thread pool, with optional modal progress and cancel."""

    running: ClassVar[set[Operation]] = set()  # keeps running operations alive

    def __init__(
        self,
        parent: QWidget | None,
        op: Callable[[OperationContext], Any],
        success: Callable[[Any], None],
        failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._parent = parent
        self._op = op
        self._success = success
        self._failure = failure
        self._label: str | None = None
        self._progress: Callable[[int, int, str], None] | None = None
        self._report: Callable[[object], None] | None = None
        self._dialog: QProgressDialog | None = None
        self.cancel_token = CancelToken()
        self.title = ""

    def with_progress(self, label: str) -> Operation:
        self._label = label
        return self

    def on_progress(self, callback: Callable[[int, int, str], None]) -> Operation:
        self._progress = callback
        return self

    def on_report(self, callback: Callable[[object], None]) -> Operation:
        self._report = callback
        return self

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def run_in_background(self) -> Operation:
        signals = _Signals()
        context = OperationContext(signals, self.cancel_token)
        runner = _Runner(self._op, context)
        signals.succeeded.connect(self._on_success, Qt.ConnectionType.QueuedConnection)
        signals.failed.connect(self._on_failure, Qt.ConnectionType.QueuedConnection)
        signals.progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        signals.reported.connect(self._on_report, Qt.ConnectionType.QueuedConnection)
        self._signals = signals
        if self._label is not None:
            dialog = QProgressDialog(self._label, "Cancel", 0, 0, self._parent)
            dialog.setWindowModality(Qt.WindowModality.WindowModal)
            dialog.setMinimumDuration(400)
            dialog.canceled.connect(self.cancel)
            self._dialog = dialog
        Operation.running.add(self)
        QThreadPool.globalInstance().start(runner)
        return self

    def _finish(self) -> None:
        Operation.running.discard(self)
        if self._dialog is not None:
            self._dialog.reset()
            self._dialog.deleteLater()
            self._dialog = None

    def _on_success(self, result: object) -> None:
        self._finish()
        self._success(result)

    def _on_failure(self, exc: BaseException, details: str) -> None:
        self._finish()
        if isinstance(exc, Cancelled):
            return
        if self._failure is not None:
            self._failure(exc)
        else:
            show_error(self._parent, exc, details)

    def _on_report(self, value: object) -> None:
        if self._report is not None:
            self._report(value)

    def _on_progress(self, done: int, total: int, label: str) -> None:
        if self._dialog is not None:
            self._dialog.setMaximum(max(total, 0))
            self._dialog.setValue(min(done, total) if total else 0)
            if label:
                self._dialog.setLabelText(label)
        if self._progress is not None:
            self._progress(done, total, label)


def show_error(parent: QWidget | None, exc: BaseException, details: str = "") -> None:
    """A readable message; the traceback goes in the folded 'details' section."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("GRAVITY Desktop")
    if isinstance(exc, UserError):
        box.setText(str(exc))
    else:
        box.setText(f"Something went wrong: {exc}")
    if details:
        box.setDetailedText(details)
    box.open()
