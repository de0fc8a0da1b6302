"""The main window: navigation between pages, the served model's state, onboarding on first run.

The model (with the active adapter) loads off the GUI thread; the window opens at once and says
what it loaded, or why it could not. Window geometry and the last page are remembered in the data
dir. Closing while work runs asks first, then stops the work cleanly. The first completed
onboarding offers to personalize at once. "Delete my data" ends here: the window stops the work,
lets go of the data dir, empties it and closes, so that the next start is a first run.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, QThreadPool
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from gravity_desktop.app_context import open_context, opened
from gravity_desktop.catalog.book import Book
from gravity_desktop.data_archive import delete_data
from gravity_desktop.errors import UserError
from gravity_desktop.llm.engine import Engine
from gravity_desktop.llm.serving import load_engine, serving_adapter, serving_model_id
from gravity_desktop.profile import service
from gravity_desktop.training.helper_access import forget_remembered_token
from gravity_desktop.ui.app import ui_settings
from gravity_desktop.ui.book_view import BookView
from gravity_desktop.ui.helper_section import TITLE as HELPER_TITLE
from gravity_desktop.ui.helper_section import HelperSection
from gravity_desktop.ui.onboarding import OnboardingWizard
from gravity_desktop.ui.operations import Operation, OperationContext
from gravity_desktop.ui.pages import ForYouPage, LibraryPage
from gravity_desktop.ui.personalization_page import PersonalizationPage
from gravity_desktop.ui.profile_view import ProfileView
from gravity_desktop.ui.settings_page import SettingsPage


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("GRAVITY Desktop")
        # The GUI thread's own connection, for quick reads and single-answer writes.
        self.context = open_context()
        self.engine: Engine | None = None
        self._base_engine: Engine | None = None
        self.adapter_id: str | None = None
        self.model_id = ""
        self.load_error: str = ""
        self.wizard: OnboardingWizard | None = None
        self.personalize_offer: QMessageBox | None = None
        self.book_views: list[BookView] = []
        self.data_deleted = False

        self.model_label = QLabel("Loading the model…")
        self.model_label.setObjectName("modelStatus")
        # A long error may be cut short rather than widen the window; the tooltip has it whole.
        self.model_label.setMinimumWidth(200)
        self.statusBar().addPermanentWidget(self.model_label)

        self.navigation = QListWidget()
        self.navigation.setAccessibleName("Pages")
        self.pages = QStackedWidget()
        self.for_you = ForYouPage(self.open_book)
        self.library = LibraryPage(self.open_book)
        self.profile_view = ProfileView()
        self.profile_view.retake_requested.connect(self.retake_section)
        self.personalization = PersonalizationPage(self.reload_model)
        self.settings = SettingsPage(self.reload_model, self.delete_all_data)
        self.helper = HelperSection(self.personalization.refresh_training_places)
        self.settings.add_section(HELPER_TITLE, self.helper)
        self._add_page("For you", self.for_you)
        self._add_page("Library", self.library)
        self._add_page("Profile", self.profile_view)
        self._add_page("Personalization", self.personalization)
        self._add_page("Settings", self.settings)
        self.navigation.setFixedWidth(max(170, self.navigation.sizeHintForColumn(0) + 32))
        self.navigation.currentRowChanged.connect(self._show_page)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.navigation)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self._restore_state()

    def _add_page(self, title: str, widget: QWidget) -> None:
        """A page in the navigation, reachable from anywhere with Ctrl+1, Ctrl+2, …"""
        row = self.navigation.count()
        keys = QKeySequence(f"Ctrl+{row + 1}")
        self.navigation.addItem(title)
        self.navigation.item(row).setToolTip(
            f"{title} ({keys.toString(QKeySequence.SequenceFormat.NativeText)})"
        )
        shortcut = QShortcut(keys, self)
        shortcut.activated.connect(lambda: self.navigation.setCurrentRow(row))
        self.pages.addWidget(widget)

    def _show_page(self, row: int) -> None:
        self.pages.setCurrentIndex(row)
        page = self.pages.widget(row)
        if page is self.for_you:
            self.for_you.refresh()
        elif page is self.library:
            self.library.refresh()
        elif page is self.personalization:
            self.personalization.refresh()
        elif page is self.settings:
            self.settings.refresh()

    def start(self) -> Operation:
        """Show the profile (or start onboarding) and load the served model in the background."""
        profile = service.current_profile(self.context.conn)
        if profile is None:
            self.start_onboarding()
        else:
            self.profile_view.show_profile(profile.as_json())
        self._show_page(self.navigation.currentRow())
        return self.reload_model()

    # -- onboarding -----------------------------------------------------------------------

    def start_onboarding(self) -> OnboardingWizard:
        wizard = self._open_wizard(OnboardingWizard(self.context.conn, parent=self))
        wizard.completed.connect(lambda _: self.offer_personalization())
        return wizard

    def retake_section(self, section: str) -> OnboardingWizard:
        return self._open_wizard(OnboardingWizard(self.context.conn, (section,), parent=self))

    def _open_wizard(self, wizard: OnboardingWizard) -> OnboardingWizard:
        self.wizard = wizard
        wizard.completed.connect(self._profile_changed)
        wizard.open()
        return wizard

    def _profile_changed(self, profile: object) -> None:
        self.profile_view.show_profile(profile.as_json())
        self.navigation.setCurrentRow(self.pages.indexOf(self.profile_view))

    def offer_personalization(self) -> QMessageBox:
        """After the first onboarding: generate pairs and train now, or leave it for later."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Personalize now?")
        box.setText("Your profile is ready. Shall GRAVITY Desktop learn your taste now?")
        box.setInformativeText(
            "It writes example descriptions that fit your profile (preference pairs), then"
            " fine-tunes the model on them, all on this computer. On a laptop this takes a while;"
            " it runs in the background with progress on the Personalization page, you can keep"
            " browsing or cancel, and it resumes where it stopped. Later, the same is one click"
            " away on that page."
        )
        now = box.addButton("Personalize now", QMessageBox.ButtonRole.AcceptRole)
        later = box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        now.setAccessibleName("Personalize now")
        later.setAccessibleName("Personalize later")
        box.setDefaultButton(now)
        now.clicked.connect(self.personalize_now)
        later.clicked.connect(
            lambda: self.statusBar().showMessage(
                "Personalize any time from the Personalization page.", 15_000
            )
        )
        self.personalize_offer = box
        box.open()
        return box

    def personalize_now(self) -> Operation:
        self.navigation.setCurrentRow(self.pages.indexOf(self.personalization))
        return self.personalization.personalize()

    # -- books ------------------------------------------------------------------------------

    def open_book(self, book: Book) -> BookView:
        view = BookView(self, book, self)
        self.book_views.append(view)
        view.finished.connect(lambda _: self.book_views.remove(view))
        view.show()
        view.write_personal()
        return view

    # EngineSource for the book view
    def personal_engine(self) -> Engine | None:
        return self.engine

    def base_engine(self) -> Engine | None:
        if self.engine is None:
            return None
        if self.adapter_id is None:
            return self.engine
        if self._base_engine is None:
            self._base_engine = self.engine.with_adapter(None)
        return self._base_engine

    def served_model_id(self) -> str:
        return self.model_id

    def active_adapter_id(self) -> str | None:
        return self.adapter_id

    # -- the model ------------------------------------------------------------------------

    def reload_model(self) -> Operation:
        """(Re)load the served model with the active adapter, off the GUI thread."""
        self._model_status("Loading the model…")

        def load(_: OperationContext) -> tuple[Engine, str, str | None]:
            with opened() as ctx:
                adapter = serving_adapter(ctx)
                engine = load_engine(ctx, adapter=adapter.path if adapter else None)
                return engine, serving_model_id(ctx), adapter.id if adapter else None

        operation = Operation(self, op=load, success=self._model_loaded, failure=self._model_failed)
        return operation.run_in_background()

    def _model_loaded(self, loaded: tuple[Engine, str, str | None]) -> None:
        for old in (self.engine, self._base_engine):
            if old is not None:
                old.close()
        self.engine, self.model_id, self.adapter_id = loaded
        self._base_engine = None
        self.load_error = ""
        text = f"Model loaded: {self.engine.description} in {self.engine.load_seconds:.2f} s"
        self._model_status(text)

    def _model_failed(self, exc: BaseException) -> None:
        self.load_error = str(exc)
        self._model_status(f"Could not load the model: {exc}")

    def _model_status(self, text: str) -> None:
        self.model_label.setText(text)
        self.model_label.setToolTip(text)

    # -- remembered state and closing -------------------------------------------------------

    def _restore_state(self) -> None:
        settings = ui_settings()
        geometry = settings.value("main_window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 760)
        self.navigation.setCurrentRow(int(settings.value("main_window/page", 2)))

    def long_work_running(self) -> bool:
        """Writing, pair generation or training in progress (quick lookups do not count)."""
        long = [self.personalization.operation, *(v.operation for v in self.book_views)]
        return any(op is not None and op in Operation.running for op in long)

    def closeEvent(self, event) -> None:
        if self.data_deleted:  # the work is stopped and nothing may be written any more
            super().closeEvent(event)
            return
        if self.long_work_running():
            answer = QMessageBox.question(
                self, "Work in progress",
                "Something is still running (writing, generating pairs or training). Stop it"
                " and quit? Interrupted pair generation and training resume next time.",
            )  # fmt: skip
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        settings = ui_settings()
        settings.setValue("main_window/geometry", self.saveGeometry())
        settings.setValue("main_window/page", self.navigation.currentRow())
        settings.sync()
        for operation in list(Operation.running):
            operation.cancel()
        QThreadPool.globalInstance().waitForDone(60_000)
        self._release_store()
        super().closeEvent(event)

    def _release_store(self) -> None:
        for engine in (self.engine, self._base_engine):
            if engine is not None:
                engine.close()
        self.engine = self._base_engine = None
        self.context.conn.close()

    # -- deleting the reader's data ---------------------------------------------------------

    def delete_all_data(self) -> None:
        """Stop the work, let go of the data dir, delete everything in it, and close.

        Closing rather than starting over in this window keeps "nothing left" literally true: a
        live window would at once recreate the database (with the catalog) and its state file.
        The next start is a first run, with the welcome page.
        """
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        token_left = ""
        try:
            for view in list(self.book_views):
                view.close()
            if self.wizard is not None:
                self.wizard.close()
            self._stop_all_work()
            self._release_store()
            self.data_deleted = True
            # The helper's token lives in the system keyring, outside the data dir.
            token_left = forget_remembered_token(self.context.paths)
            removed = delete_data(self.context.paths)
        except UserError as exc:
            problem = f"Not everything could be deleted: {exc}"
        else:
            problem = ""
        finally:
            QApplication.restoreOverrideCursor()
        if problem:
            QMessageBox.warning(self, "Delete my data", problem)
        else:
            names = ", ".join(entry.name for entry in removed) or "nothing was there"
            QMessageBox.information(
                self, "Delete my data",
                f"Your data was deleted ({names}). {token_left}GRAVITY Desktop closes now; the"
                " next start begins again with the welcome page.",
            )  # fmt: skip
        self.close()

    def _stop_all_work(self) -> None:
        """Cancel every operation and wait for it; deliver the results while the data exists."""
        pool = QThreadPool.globalInstance()
        for _ in range(3):  # a finishing operation may start one more (a model reload)
            if not Operation.running:
                return
            for operation in list(Operation.running):
                operation.cancel()
            pool.waitForDone(60_000)
            QCoreApplication.processEvents()
