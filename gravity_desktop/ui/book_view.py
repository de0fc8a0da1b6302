"""A book: its facts, a personalized description streamed token by token, thumbs and compare.

Thumbs down offers "another version" (a new description; liking it makes a real pair) and
"write what you'd prefer" (the rewrite makes a real pair). "Compare" writes the base model's
description beside the personalized one.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gravity_desktop.app_context import opened
from gravity_desktop.catalog.book import Book
from gravity_desktop.gravity.describe import describe
from gravity_desktop.gravity.feedback import give_feedback
from gravity_desktop.llm.engine import Engine
from gravity_desktop.profile.service import current_profile
from gravity_desktop.ui.operations import Operation, OperationContext, show_error


class EngineSource:
    """What the book view needs from the main window: the engines and what they serve."""

    def personal_engine(self) -> Engine | None: ...

    def base_engine(self) -> Engine | None: ...

    def served_model_id(self) -> str: ...

    def active_adapter_id(self) -> str | None: ...


class BookView(QDialog):
    def __init__(self, source: EngineSource, book: Book, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.book = book
        self.description_id: int | None = None
        self.operation: Operation | None = None
        self.setWindowTitle(book.title)
        self.resize(760, 560)
        title = QLabel(f"<h2>{book.title}</h2>")
        title.setWordWrap(True)
        facts = [book.author]
        if book.year:
            facts.append(str(book.year))
        if book.genres:
            facts.append(", ".join(book.genres))
        details = QLabel(" · ".join(facts))
        details.setWordWrap(True)
        self.personal = QTextBrowser()
        self.personal.setObjectName("personalDescription")
        self.personal.setAccessibleName("Description written for you")
        self.base = QTextBrowser()
        self.base.setObjectName("baseDescription")
        self.base.setAccessibleName("Description from the base model")
        self.base.hide()
        texts = QHBoxLayout()
        texts.addWidget(self.personal)
        texts.addWidget(self.base)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.up = QPushButton("👍 I like it")
        self.down = QPushButton("👎 Not for me")
        menu = QMenu(self.down)
        menu.addAction("Just say so", lambda: self.feedback("down"))
        menu.addAction("Another version", self.another_version)
        menu.addAction("Write what you'd prefer…", self.write_preferred)
        self.down.setMenu(menu)
        self.compare = QPushButton("Compare with the base model")
        self.stop = QPushButton("Stop")
        self.up.setAccessibleName("I like this description")
        self.down.setAccessibleName("Not for me: say so, ask for another version, or rewrite it")
        self.compare.setAccessibleName("Compare with the base model")
        self.stop.setAccessibleName("Stop writing")
        self.up.clicked.connect(lambda: self.feedback("up"))
        self.compare.clicked.connect(self.write_base)
        self.stop.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for button in (self.up, self.down, self.compare):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.stop)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(details)
        layout.addLayout(texts, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self._set_busy(False)

    # -- writing ----------------------------------------------------------------------------

    def write_personal(self) -> Operation | None:
        engine = self.source.personal_engine()
        if engine is None:
            self.status.setText("The model is still loading; try again in a moment.")
            return None
        self.personal.clear()
        return self._write(engine, self.personal, self.source.active_adapter_id(), personal=True)

    def write_base(self) -> Operation | None:
        engine = self.source.base_engine()
        if engine is None:
            return None
        self.base.show()
        self.base.clear()
        return self._write(engine, self.base, None, personal=False)

    def _write(self, engine: Engine, target: QTextBrowser, adapter_id: str | None,
               personal: bool) -> Operation:  # fmt: skip
        book, model_id = self.book, self.source.served_model_id()

        def op(context: OperationContext) -> object:
            with opened() as ctx:
                profile = current_profile(ctx.conn)
                return describe(
                    ctx.conn, engine, model_id, book, profile, adapter_id=adapter_id,
                    on_piece=context.report, cancel=context.cancel_token,
                )  # fmt: skip

        def done(written: object) -> None:
            if personal and written.description_id:
                self.description_id = written.description_id
                self.status.setText("Tell us what you think: it teaches the app your taste.")
            elif written.finish_reason == "cancelled":
                self.status.setText("Stopped.")
            else:
                self.status.setText("")
            self._set_busy(False)
            target.setPlainText(written.text)

        def failed(exc: BaseException) -> None:
            self._set_busy(False)
            show_error(self, exc)

        self._set_busy(True)
        self.status.setText("Writing…")
        self.operation = (
            Operation(self, op=op, success=done, failure=failed)
            .on_report(lambda piece: target.insertPlainText(str(piece)))
            .run_in_background()
        )
        return self.operation

    def cancel(self) -> None:
        if self.operation is not None:
            self.operation.cancel()

    def _set_busy(self, busy: bool) -> None:
        has_text = self.description_id is not None
        self.up.setEnabled(not busy and has_text)
        self.down.setEnabled(not busy and has_text)
        self.compare.setEnabled(not busy)
        self.stop.setEnabled(busy)

    # -- feedback ---------------------------------------------------------------------------

    def feedback(self, verdict: str, rewrite: str | None = None) -> None:
        try:
            with opened() as ctx:
                result = give_feedback(
                    ctx.conn, self.book.id, verdict, rewrite, self.description_id
                )
        except Exception as exc:
            show_error(self, exc)
            return
        self.status.setText(result.message.capitalize() + ".")

    def another_version(self) -> None:
        self.feedback("down")
        self.write_personal()

    def write_preferred(self) -> None:
        text, ok = QInputDialog.getMultiLineText(
            self, "What would you prefer?", "Write the description you would have liked:",
            self.personal.toPlainText(),
        )  # fmt: skip
        if ok and text.strip():
            self.feedback("down", text)

    def closeEvent(self, event) -> None:
        self.cancel()
        super().closeEvent(event)
