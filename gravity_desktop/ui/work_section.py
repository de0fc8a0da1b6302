"""A Settings section whose buttons start slow work: a progress bar, Cancel and a status line.

The Models and Training pack sections share this: one operation at a time, its buttons disabled
while it runs, a progress bar and Cancel beside them, and a selectable line under them saying
what happened. A subclass builds its buttons, lays them out with `action_row`, enables them in
`_update_buttons` (looking at `busy`) and rereads its state in `refresh`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from gravity_desktop.ui.operations import Operation, show_error


class WorkSection(QWidget):
    def __init__(self, cancel_name: str, progress_name: str) -> None:
        super().__init__()
        self.operation: Operation | None = None
        self.busy = False
        self.cancel = QPushButton("Cancel")
        self.cancel.setAccessibleName(cancel_name)
        self.cancel.clicked.connect(lambda: self.operation and self.operation.cancel())
        self.progress = QProgressBar()
        self.progress.setAccessibleName(progress_name)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.hide()

    def action_row(self, *buttons: QPushButton) -> QHBoxLayout:
        """The buttons, then Cancel and the progress bar (shown while work runs)."""
        row = QHBoxLayout()
        for button in (*buttons, self.cancel):
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            row.addWidget(button)
        row.addWidget(self.progress, 1)
        row.addStretch(0)
        return row

    def refresh(self) -> None:
        raise NotImplementedError

    def _update_buttons(self) -> None:
        raise NotImplementedError

    def _set_busy(self, busy: bool, cancellable: bool = False) -> None:
        self.busy = busy
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        self.cancel.setEnabled(cancellable)
        self._update_buttons()

    def say(self, message: str) -> None:
        """The line under the buttons; hidden while there is nothing to say."""
        self.status.setText(message)
        self.status.setVisible(bool(message))

    def _ended(self, message: str) -> None:
        self.operation = None
        self._set_busy(False)
        self.say(message)
        self.refresh()

    def _failed(self, what: str) -> Callable[[BaseException], None]:
        def failed(exc: BaseException) -> None:
            self._ended(f"{what} failed: {exc}")
            show_error(self, exc)

        return failed
