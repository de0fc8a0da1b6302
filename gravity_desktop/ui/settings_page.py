"""The Settings page: models, the training pack, your data, appearance, and room for more.

Sections are group boxes in one scrolling column, so that none is cut off in a small window or a
large font. `add_section` puts further sections (the GPU helper's, for one) after Models and the
training pack and before Your data, next to the other settings about where the computing happens.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QFrame, QGroupBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from gravity_desktop.ui.data_section import DataSection
from gravity_desktop.ui.models_section import ModelsSection
from gravity_desktop.ui.pack_section import TITLE as PACK_TITLE
from gravity_desktop.ui.pack_section import PackSection
from gravity_desktop.ui.theme import scheme_name


class SettingsPage(QScrollArea):
    def __init__(
        self, served_model_changed: Callable[[], object], delete_everything: Callable[[], object]
    ) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        content = QWidget()
        self.column = QVBoxLayout(content)
        self.models = ModelsSection(served_model_changed)
        self.pack = PackSection()
        self.data = DataSection(delete_everything)
        self.appearance = QLabel()
        self.appearance.setObjectName("appearanceNote")
        self.appearance.setWordWrap(True)
        self._describe_appearance()
        self._add(0, "Models", self.models)
        self._add(1, PACK_TITLE, self.pack)
        self._added_at = 2  # sections from add_section go here, in the order they come
        self._add(2, "Your data", self.data)
        self._add(3, "Appearance", self.appearance)
        self.column.addStretch(1)
        self.setWidget(content)

    def add_section(self, title: str, widget: QWidget) -> QGroupBox:
        box = self._add(self._added_at, title, widget)
        self._added_at += 1
        return box

    def _add(self, position: int, title: str, widget: QWidget) -> QGroupBox:
        box = QGroupBox(title)
        box.setAccessibleName(title)
        QVBoxLayout(box).addWidget(widget)
        self.column.insertWidget(position, box)
        return box

    def refresh(self) -> None:
        self.models.refresh()
        self.pack.refresh()

    def _describe_appearance(self) -> None:
        self.appearance.setText(
            f"GRAVITY Desktop follows your system's light or dark appearance (at the moment:"
            f" {scheme_name()}), and its text size follows the system font. Change them in your"
            " system settings; the windows and charts follow."
        )

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._describe_appearance()
        super().changeEvent(event)
