"""The "Training pack" section of Settings: whether training can run here, and the pack itself.

An installed app leaves torch and the rest of the training stack out; personalization (training,
book embeddings) runs in the training pack, which the reader downloads and installs once. This
section says which case this copy of the app is in (`packs.training_stack`, the same decision
the workers are started by), installs a downloaded pack archive off the GUI thread with
progress and Cancel, and removes it after asking. From a source checkout the workers use the
project's own Python, so the section says whether torch is there and offers no install.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from gravity_desktop import packs
from gravity_desktop.config import paths
from gravity_desktop.data_archive import format_size
from gravity_desktop.ui.operations import Cancelled, Operation, OperationContext
from gravity_desktop.ui.work_section import WorkSection

TITLE = "Training pack"
KB = 1024  # progress travels in kB: Qt's int signals stop at 2 GB
ARCHIVES = "Training pack (*.tar.gz *.tgz *.zip);;All files (*)"
NOT_NEEDED = "Not needed here: training uses this copy's own Python."


def describe(stack: packs.TrainingStack) -> str:
    """The state line: can personalization run, and with what (rich text)."""
    if stack.source == "checkout" and stack.available:
        return (
            "<b>Available.</b> GRAVITY Desktop runs from source with the training stack (torch)"
            " installed, so training and book embeddings run in this Python environment. No"
            " training pack is needed."
        )
    if stack.source == "checkout":
        return (
            "<b>Not available.</b> GRAVITY Desktop runs from source without the training stack:"
            " install it with <tt>make install-train</tt>. The training pack is for installed"
            " copies of the app."
        )
    if stack.source == "app":
        return (
            "<b>Available.</b> This copy of GRAVITY Desktop carries the training stack itself."
            " No training pack is needed."
        )
    if stack.pack is not None:
        return (
            f"<b>Installed:</b> training pack {html.escape(stack.pack.version)}"
            f" ({html.escape(stack.pack.platform)}) in {html.escape(str(stack.pack.root))}."
            " Training and book embeddings run in it."
        )
    reason = packs.unusable_pack_reason()
    unusable = f" The pack found there cannot be used: {html.escape(reason)}." if reason else ""
    return (
        "<b>Not installed.</b> Personalization (training your adapter, book embeddings) needs"
        " the training pack, which the installer leaves out to stay small. Download"
        f" <b>{html.escape(packs.archive_name())}</b> from the page you got GRAVITY Desktop"
        " from, then choose it with <i>Install training pack</i>. Recommendations, descriptions"
        f" and feedback work without it.{unusable}"
    )


class PackSection(WorkSection):
    def __init__(self) -> None:
        super().__init__(
            "Cancel installing the training pack", "Training pack installation progress"
        )
        self.confirmation: QMessageBox | None = None
        self.stack = packs.training_stack()

        self.state = QLabel()
        self.state.setObjectName("packState")
        self.state.setWordWrap(True)
        self.state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.install = QPushButton("Install training pack…")
        self.install.setAccessibleName("Install the training pack from a downloaded archive")
        self.install.clicked.connect(self.choose_archive)
        self.remove = QPushButton("Remove")
        self.remove.setAccessibleName("Remove the training pack")
        self.remove.setToolTip(
            "Deletes the training pack (about a gigabyte). Your adapters, pairs and other data"
            " stay; training needs the pack again afterwards."
        )
        self.remove.clicked.connect(self.confirm_remove)
        self.cancel.setToolTip("Stops unpacking; a pack installed before stays as it was.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.state)
        layout.addLayout(self.action_row(self.install, self.remove))
        layout.addWidget(self.status)
        self.state.setText(describe(self.stack))
        self._set_busy(False)

    # -- state ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Look again: the pack may have been installed or removed with `gravity pack` meanwhile."""
        self.stack = packs.training_stack()
        self.state.setText(describe(self.stack))
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.install.setEnabled(not self.busy and self.stack.pack_used)
        self.install.setToolTip(
            f"Choose the downloaded {packs.archive_name()}; it is checked, then unpacked into"
            f" {packs.pack_dir()} (replacing a pack installed before)."
            if self.stack.pack_used
            else NOT_NEEDED
        )
        self.remove.setEnabled(not self.busy and packs.pack_dir().exists())

    # -- installing -------------------------------------------------------------------------

    def choose_archive(self) -> None:
        downloads = Path.home() / "Downloads"
        start = downloads if downloads.is_dir() else Path.home()
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Install the training pack", str(start), ARCHIVES
        )
        if chosen:
            self.start_install(Path(chosen))

    def start_install(self, archive: Path) -> Operation:
        """Unpack `archive` off the GUI thread; a cancel or a bad archive keeps the old pack."""

        def op(context: OperationContext) -> packs.Pack | None:
            def progress(done: int, total: int) -> None:
                context.check_cancelled()
                context.progress(done // KB, total // KB, "")

            try:
                return packs.install_pack(archive, paths(), progress)
            except Cancelled:
                return None

        def done(pack: packs.Pack | None) -> None:
            if pack is None:
                self._ended("Installation stopped; nothing was changed.")
            else:
                self._ended(
                    f"Installed training pack {pack.version} ({pack.platform}) from"
                    f" {archive.name}. Training and book embeddings can run now."
                )

        def progress(done_kb: int, total_kb: int, _: str) -> None:
            self.progress.setMaximum(total_kb)
            self.progress.setValue(done_kb)
            self.say(
                f"Unpacking {archive.name}: {format_size(done_kb * KB)} of"
                f" {format_size(total_kb * KB)}…"
            )

        self.progress.setRange(0, 0)
        self.say(f"Unpacking {archive.name}…")
        self.operation = Operation(
            self, op=op, success=done, failure=self._failed("Installing the training pack")
        )
        self.operation.on_progress(progress)
        self._set_busy(True, cancellable=True)
        return self.operation.run_in_background()

    # -- removing ---------------------------------------------------------------------------

    def confirm_remove(self) -> QMessageBox:
        """Ask first: the pack is large to download again. Cancel is the default."""
        box = QMessageBox(self.window())
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Remove the training pack?")
        box.setText(
            f"Remove the training pack from {packs.pack_dir()}? Training and book embeddings"
            " need it again afterwards. Your adapters, pairs and other data stay."
        )
        keep = box.addButton("Keep it", QMessageBox.ButtonRole.RejectRole)
        keep.setAccessibleName("Keep the training pack")
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        remove.setAccessibleName("Remove the training pack now")
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        remove.clicked.connect(lambda: self.start_remove())
        box.finished.connect(self._confirmation_closed)
        self.confirmation = box
        box.open()
        return box

    def _confirmation_closed(self) -> None:
        if self.confirmation is not None:
            self.confirmation.deleteLater()
            self.confirmation = None

    def start_remove(self) -> Operation:
        """Delete the pack folder off the GUI thread (a gigabyte of small files takes a while)."""

        def op(_: OperationContext) -> bool:
            return packs.remove_pack(paths())

        def done(removed: bool) -> None:
            self._ended("Training pack removed." if removed else "No training pack was installed.")

        self.progress.setRange(0, 0)
        self.say("Removing the training pack…")
        self.operation = Operation(
            self, op=op, success=done, failure=self._failed("Removing the training pack")
        )
        self._set_busy(True)
        return self.operation.run_in_background()
