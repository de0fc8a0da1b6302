"""The main window: navigation between pages, the served model's state, onboarding on first run.

The model loads off the GUI thread; the window opens at once and says what it loaded (or why it
could not). Window geometry and the last page are remembered in the data dir.
"""

from __future__ import annotations

from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from gravity_desktop.app_context import open_context, opened
from gravity_desktop.llm.engine import Engine
from gravity_desktop.llm.serving import load_engine
from gravity_desktop.profile import service
from gravity_desktop.ui.app import ui_settings
from gravity_desktop.ui.onboarding import OnboardingWizard
from gravity_desktop.ui.operations import Operation, OperationContext
from gravity_desktop.ui.profile_view import ProfileView


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("GRAVITY Desktop")
        # The GUI thread's own connection, for quick reads and single-answer writes.
        self.context = open_context()
        self.engine: Engine | None = None
        self.load_error: str = ""
        self.wizard: OnboardingWizard | None = None

        self.model_label = QLabel("Loading the model…")
        self.model_label.setObjectName("modelStatus")
        self.statusBar().addPermanentWidget(self.model_label)

        self.navigation = QListWidget()
        self.navigation.setFixedWidth(170)
        self.pages = QStackedWidget()
        self.profile_view = ProfileView()
        self.profile_view.retake_requested.connect(self.retake_section)
        self._add_page("Profile", self.profile_view)
        self.navigation.currentRowChanged.connect(self.pages.setCurrentIndex)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.navigation)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self._restore_state()

    def _add_page(self, title: str, widget: QWidget) -> None:
        self.navigation.addItem(title)
        self.pages.addWidget(widget)

    def start(self) -> Operation:
        """Show the profile (or start onboarding) and load the served model in the background."""
        profile = service.current_profile(self.context.conn)
        if profile is None:
            self.start_onboarding()
        else:
            self.profile_view.show_profile(profile.as_json())

        def load(_: OperationContext) -> Engine:
            with opened() as ctx:
                return load_engine(ctx)

        operation = Operation(self, op=load, success=self._model_loaded, failure=self._model_failed)
        return operation.run_in_background()

    # -- onboarding -----------------------------------------------------------------------

    def start_onboarding(self) -> OnboardingWizard:
        return self._open_wizard(OnboardingWizard(self.context.conn, parent=self))

    def retake_section(self, section: str) -> OnboardingWizard:
        return self._open_wizard(OnboardingWizard(self.context.conn, (section,), parent=self))

    def _open_wizard(self, wizard: OnboardingWizard) -> OnboardingWizard:
        self.wizard = wizard
        wizard.completed.connect(lambda profile: self.profile_view.show_profile(profile.as_json()))
        wizard.open()
        return wizard

    # -- the model ------------------------------------------------------------------------

    def _model_loaded(self, engine: Engine) -> None:
        self.engine = engine
        text = f"Model loaded: {engine.description} in {engine.load_seconds:.2f} s"
        self.model_label.setText(text)
        self.statusBar().showMessage(text, 8000)

    def _model_failed(self, exc: BaseException) -> None:
        self.load_error = str(exc)
        self.model_label.setText(f"Could not load the model: {exc}")

    # -- remembered state -----------------------------------------------------------------

    def _restore_state(self) -> None:
        settings = ui_settings()
        geometry = settings.value("main_window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 760)
        self.navigation.setCurrentRow(int(settings.value("main_window/page", 0)))

    def closeEvent(self, event) -> None:
        settings = ui_settings()
        settings.setValue("main_window/geometry", self.saveGeometry())
        settings.setValue("main_window/page", self.navigation.currentRow())
        settings.sync()
        for operation in list(Operation.running):
            operation.cancel()
        QThreadPool.globalInstance().waitForDone(30_000)
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self.context.conn.close()
        super().closeEvent(event)
