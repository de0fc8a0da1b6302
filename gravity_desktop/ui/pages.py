"""The For you and Library pages: recommendations with reasons, search, reading-history import."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gravity_desktop.app_context import opened
from gravity_desktop.catalog.book import Book
from gravity_desktop.catalog.importers import import_file
from gravity_desktop.catalog.library import search
from gravity_desktop.profile.service import current_profile
from gravity_desktop.recommend.ranking import recommend
from gravity_desktop.store.books import all_books
from gravity_desktop.ui.operations import Operation, OperationContext

OpenBook = Callable[[Book], None]


class BookList(QListWidget):
    """Books shown as "title — author" over a line of detail; activating one opens it."""

    def __init__(self, name: str, accessible_name: str, open_book: OpenBook) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setAccessibleName(accessible_name)
        self.setToolTip("Press Enter or double-click a book to open it.")
        self.setWordWrap(True)
        self.setSpacing(4)
        self.setAlternatingRowColors(True)
        self.itemActivated.connect(lambda item: open_book(item.data(Qt.ItemDataRole.UserRole)))

    def show_books(self, rows: list[tuple[Book, str]]) -> None:
        self.clear()
        for book, detail in rows:
            item = QListWidgetItem(f"{book.title} — {book.author}\n    {detail}")
            item.setData(Qt.ItemDataRole.UserRole, book)
            self.addItem(item)


def _library_detail(book: Book) -> str:
    year = f"{book.year}, " if book.year else ""
    return year + (", ".join(book.genres) or book.source)


def _page(owner: QWidget, top: list[QWidget], books: BookList) -> None:
    """A row of controls above a book list (the first control takes the spare width)."""
    row = QHBoxLayout()
    for index, widget in enumerate(top):
        row.addWidget(widget, 1 if index == 0 else 0)
    layout = QVBoxLayout(owner)
    layout.addLayout(row)
    layout.addWidget(books, 1)


class ForYouPage(QWidget):
    """Recommendations for the current profile and reading history, each with its reasons."""

    def __init__(self, open_book: OpenBook) -> None:
        super().__init__()
        self.list = BookList("recommendations", "Recommended books", open_book)
        note = QLabel("Double-click a book (or press Enter) for a description written for you.")
        note.setWordWrap(True)
        refresh = QPushButton("Refresh")
        refresh.setAccessibleName("Refresh the recommendations")
        refresh.clicked.connect(self.refresh)
        _page(self, [note, refresh], self.list)

    def refresh(self) -> Operation:
        def op(_: OperationContext) -> list:
            with opened() as ctx:
                return recommend(ctx.conn, current_profile(ctx.conn), 30)

        return Operation(self, op=op, success=self._show).run_in_background()

    def _show(self, ranked: list) -> None:
        self.list.show_books([(item.book, "; ".join(item.reasons) or "—") for item in ranked])


class LibraryPage(QWidget):
    """Every book in the library, searchable; import a Goodreads, StoryGraph or Calibre library."""

    def __init__(self, open_book: OpenBook) -> None:
        super().__init__()
        self.query = QLineEdit()
        self.query.setPlaceholderText("Search by title, author, genre, theme…")
        self.query.setAccessibleName("Search the library")
        self.query.textChanged.connect(self.refresh)
        self.list = BookList("library", "Books in the library", open_book)
        importer = QPushButton("Import reading history…")
        importer.setAccessibleName("Import reading history from Goodreads, StoryGraph or Calibre")
        importer.clicked.connect(self.choose_import)
        _page(self, [self.query, importer], self.list)
        self.last_report = None

    def refresh(self) -> None:
        with opened() as ctx:
            text = self.query.text().strip()
            books = search(ctx.conn, text) if text else all_books(ctx.conn)
        self.list.show_books([(book, _library_detail(book)) for book in books])

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import reading history", "",
            "Goodreads or StoryGraph export (*.csv);;Calibre library (metadata.db);;All files (*)",
        )  # fmt: skip
        if path:
            self.start_import(path)

    def start_import(self, path: str) -> Operation:
        def op(_: OperationContext) -> object:
            with opened() as ctx:
                return import_file(ctx.conn, path)

        return (
            Operation(self, op=op, success=self._imported)
            .with_progress("Importing your reading history…")
            .run_in_background()
        )

    def _imported(self, report: object) -> None:
        self.last_report = report
        self.refresh()
        box = QMessageBox(self)
        box.setWindowTitle("Import finished")
        box.setText(
            f"{report.file.name} ({report.format}): imported {report.imported}, updated"
            f" {report.updated}, unchanged {report.unchanged}, skipped {len(report.skipped)}."
        )
        if report.skipped:
            box.setDetailedText("\n".join(str(problem) for problem in report.skipped))
        box.open()
