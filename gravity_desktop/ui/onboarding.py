"""The onboarding wizard: one section a page, answers saved as they are given, resumable.

Each answer goes to the store the moment it is clicked (through the same core functions the CLI
uses), so closing the app mid-way loses nothing; reopening starts at the first unfinished section.
Finishing freezes the answers into a new profile version. Retaking a section runs the same wizard
with just that page.
"""

from __future__ import annotations

import sqlite3

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from gravity_desktop.profile import service
from gravity_desktop.profile.culture import (
    baseline,
    country_names,
    covered_countries,
    language_names,
)
from gravity_desktop.profile.instruments import (
    SCALED,
    SECTION_ORDER,
    Instrument,
    Questionnaire,
    load_questionnaire,
)
from gravity_desktop.profile.profile import Profile
from gravity_desktop.profile.scoring import MIN_SHARE_FOR_MRAT

# Languages offered first in the picker (ISO 639-1); any other code can still come from the CLI.
COMMON_LANGUAGES = (
    "en",
    "es",
    "pt",
    "fr",
    "de",
    "it",
    "nl",
    "sv",
    "pl",
    "ru",
    "tr",
    "ar",
    "hi",
    "bn",
    "ta",
    "ur",
    "zh",
    "ja",
    "ko",
    "id",
)


class SectionPage(QWizardPage):
    """Shared parts: the wizard's connection and the progress line under every page."""

    def __init__(self, wizard: OnboardingWizard, section: str) -> None:
        super().__init__()
        self.onboarding = wizard
        self.section = section
        instrument = wizard.questionnaire.instruments[section]
        self.setTitle(instrument.title)
        self.setSubTitle(instrument.intro)
        self.missing_label = QLabel()
        self.missing_label.setObjectName("missing")
        self.missing_label.setWordWrap(True)
        self.missing_label.setStyleSheet("color: palette(mid);")
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m statements answered")

    def changed(self) -> None:
        self.completeChanged.emit()
        self.onboarding.update_progress()

    def missing(self) -> list[str]:
        """What still needs an answer before this section can be scored."""
        return []

    def isComplete(self) -> bool:
        missing = self.missing()
        self.missing_label.setText("Still needed: " + "; ".join(missing) if missing else "")
        return not missing


class ScaledPage(SectionPage):
    """A matrix of items with one radio button per scale point."""

    def __init__(self, wizard: OnboardingWizard, section: str) -> None:
        super().__init__(wizard, section)
        self.instrument: Instrument = wizard.questionnaire.instruments[section]
        self.groups: dict[str, QButtonGroup] = {}
        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        grid.setHorizontalSpacing(10)
        scale = self.instrument.items[0].scale
        for column, label in enumerate(scale.labels, start=1):
            header = QLabel(label)
            header.setWordWrap(True)
            header.setAlignment(Qt.AlignmentFlag.AlignCenter)
            header.setMaximumWidth(110)
            grid.addWidget(header, 0, column)
        answers = wizard.draft_answers
        for row, item in enumerate(self.instrument.items, start=1):
            text = QLabel(item.text)
            text.setWordWrap(True)
            text.setMinimumWidth(280)
            grid.addWidget(text, row, 0)
            group = QButtonGroup(self)
            for column, value in enumerate(range(item.scale.min, item.scale.max + 1), start=1):
                button = QRadioButton()
                button.setToolTip(item.scale.labels[column - 1])
                button.setAccessibleName(f"{item.text}: {item.scale.labels[column - 1]}")
                group.addButton(button, value)
                grid.addWidget(button, row, column, alignment=Qt.AlignmentFlag.AlignCenter)
                if answers.get(item.id) == value:
                    button.setChecked(True)
            group.idClicked.connect(lambda value, item_id=item.id: self._answered(item_id, value))
            self.groups[item.id] = group
        grid.setColumnStretch(0, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(grid_host)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)
        note = QLabel("You may leave a statement unanswered if you prefer not to say.")
        note.setStyleSheet("color: palette(mid);")
        layout.addWidget(note)
        layout.addWidget(self.missing_label)
        layout.addWidget(self.progress)

    def _answered(self, item_id: str, value: int) -> None:
        service.record_answer(self.onboarding.conn, item_id, value)
        self.onboarding.draft_answers[item_id] = value
        self.changed()

    def answered(self) -> dict[str, int]:
        return {i: g.checkedId() for i, g in self.groups.items() if g.checkedId() != -1}

    def missing(self) -> list[str]:
        answered = self.answered()
        gaps = []
        minimum = self.instrument.min_answers_per_facet
        for facet in dict.fromkeys(item.facet for item in self.instrument.items):
            count = sum(1 for i in self.instrument.items_of(facet) if i.id in answered)
            if count < minimum:
                gaps.append(f"{minimum - count} more on {facet.replace('_', ' ')}")
        if self.section == "schwartz":
            needed = int(-(-MIN_SHARE_FOR_MRAT * len(self.instrument.items) // 1))
            if len(answered) < needed:
                gaps.append(f"at least {needed} of {len(self.instrument.items)} statements")
        return gaps


class AboutPage(SectionPage):
    def __init__(self, wizard: OnboardingWizard) -> None:
        super().__init__(wizard, "about")
        fields = wizard.draft_fields.get("about", {})
        self.country = QComboBox()
        self.country.addItem("Choose your country…", None)
        covered = covered_countries()
        for code in covered:
            self.country.addItem(baseline(code).name, code)
        self.country.insertSeparator(self.country.count())
        others = sorted(
            (name, code) for code, name in country_names().items() if code not in covered
        )
        for name, code in others:
            self.country.addItem(name, code)
        self._select(self.country, fields.get("country"))
        self.country.currentIndexChanged.connect(
            lambda _: self._save("country", self.country.currentData())
        )
        self.age = self._choice("age_band", fields.get("age_band"))
        self.frequency = self._choice("reading_frequency", fields.get("reading_frequency"))
        self.languages = QListWidget()
        self.languages.setMaximumHeight(150)
        chosen = list(fields.get("languages", []))
        for code in dict.fromkeys([*chosen, *COMMON_LANGUAGES]):
            entry = QListWidgetItem(language_names().get(code, code))
            entry.setData(Qt.ItemDataRole.UserRole, code)
            entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            entry.setCheckState(
                Qt.CheckState.Checked if code in chosen else Qt.CheckState.Unchecked
            )
            self.languages.addItem(entry)
        self.languages.itemChanged.connect(lambda _: self._save("languages", self.language_codes()))
        q = wizard.questionnaire
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for field, widget in (("country", self.country), ("age_band", self.age),
                              ("languages", self.languages),
                              ("reading_frequency", self.frequency)):  # fmt: skip
            text = q.field("about", field).text
            widget.setAccessibleName(text)
            form.addRow(text, widget)
        form.addRow(self.missing_label)
        form.addRow(self.progress)

    def _choice(self, field: str, current: object) -> QComboBox:
        combo = QComboBox()
        combo.addItem("Prefer not to say", None)
        for option in self.onboarding.questionnaire.field("about", field).options:
            combo.addItem(option, option)
        self._select(combo, current)
        combo.currentIndexChanged.connect(lambda _: self._save(field, combo.currentData()))
        return combo

    @staticmethod
    def _select(combo: QComboBox, value: object) -> None:
        index = combo.findData(value) if value is not None else 0
        combo.setCurrentIndex(max(index, 0))

    def language_codes(self) -> list[str]:
        return [
            self.languages.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.languages.count())
            if self.languages.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _save(self, field: str, value: object) -> None:
        service.record_field(self.onboarding.conn, "about", field, value)
        self.changed()

    def missing(self) -> list[str]:
        return [] if self.country.currentData() else ["your country"]


class InterestsPage(SectionPage):
    def __init__(self, wizard: OnboardingWizard) -> None:
        super().__init__(wizard, "interests")
        saved = wizard.draft_fields.get("interests", {})
        self.lists: dict[str, QListWidget] = {}
        columns = QHBoxLayout()
        for spec in wizard.questionnaire.instruments["interests"].fields:
            if spec.kind != "multi":
                continue  # favourite books are picked from the catalog in the Library
            box = QVBoxLayout()
            title = QLabel(spec.text)
            title.setWordWrap(True)
            box.addWidget(title)
            widget = QListWidget()
            widget.setAccessibleName(spec.text)
            chosen = set(saved.get(spec.id, []))
            for option in spec.options:
                entry = QListWidgetItem(option)
                entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                entry.setCheckState(
                    Qt.CheckState.Checked if option in chosen else Qt.CheckState.Unchecked
                )
                widget.addItem(entry)
            widget.itemChanged.connect(lambda _, field=spec.id: self._save(field))
            box.addWidget(widget)
            columns.addLayout(box)
            self.lists[spec.id] = widget
        layout = QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(self.missing_label)
        layout.addWidget(self.progress)

    def chosen(self, field: str) -> list[str]:
        widget = self.lists[field]
        return [
            widget.item(i).text()
            for i in range(widget.count())
            if widget.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _save(self, field: str) -> None:
        service.record_field(self.onboarding.conn, "interests", field, self.chosen(field))
        self.changed()


PRIVACY_PROMISE = (
    "GRAVITY Desktop learns how you like books to be described, and it does all of it on this"
    " computer. Your answers, your reading history, the example descriptions it writes for you,"
    " your feedback, the adapters it trains and the models it uses stay in one folder here."
    " Nothing is sent anywhere unless you turn on the GPU helper yourself.\n\n"
    "The questions take about ten minutes. Your answers are saved as you go: you can stop and"
    " come back, skip a statement, and retake any section later."
)
WELCOME_ID = 0  # section pages follow with ids 1..6, in SECTION_ORDER


class WelcomePage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Welcome")
        text = QLabel(PRIVACY_PROMISE)
        text.setWordWrap(True)
        text.setObjectName("privacyPromise")
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addStretch(1)


class OnboardingWizard(QWizard):
    """The questionnaire, or some of its sections when retaking them."""

    completed = Signal(object)  # the new Profile

    def __init__(
        self,
        conn: sqlite3.Connection,
        sections: tuple[str, ...] = SECTION_ORDER,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Tell us about yourself")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.conn = conn
        self.sections = sections
        self.questionnaire: Questionnaire = load_questionnaire()
        self.draft_answers, self.draft_fields = service.draft(conn)
        self.pages: dict[str, SectionPage] = {}
        for section in sections:
            if section == "about":
                page: SectionPage = AboutPage(self)
            elif section == "interests":
                page = InterestsPage(self)
            else:
                page = ScaledPage(self, section)
            self.pages[section] = page
            self.setPage(SECTION_ORDER.index(section) + 1, page)
        self.total_items = sum(
            len(self.questionnaire.instruments[s].items) for s in sections if s in SCALED
        )
        self.setButtonText(QWizard.WizardButton.CancelButton, "Continue later")
        for button, name in ((QWizard.WizardButton.BackButton, "Previous section"),
                             (QWizard.WizardButton.NextButton, "Next section"),
                             (QWizard.WizardButton.FinishButton, "Finish the questionnaire"),
                             (QWizard.WizardButton.CancelButton, "Continue later")):  # fmt: skip
            self.button(button).setAccessibleName(name)
        first = self.first_unfinished()
        fresh = not self.draft_answers and not self.draft_fields
        if sections == SECTION_ORDER and fresh:
            self.setPage(WELCOME_ID, WelcomePage())
            self.setStartId(WELCOME_ID)
        else:
            self.setStartId(SECTION_ORDER.index(first) + 1)
        self.resize(900, 680)
        self.update_progress()
        self.currentIdChanged.connect(lambda _: self.update_progress())

    def first_unfinished(self) -> str:
        """Resume where the reader stopped: the first section not yet complete."""
        for section in self.sections:
            if not self.pages[section].isComplete():
                return section
        return self.sections[-1]

    def update_progress(self) -> None:
        answered = sum(
            len(page.answered()) for page in self.pages.values() if isinstance(page, ScaledPage)
        )
        for page in self.pages.values():
            page.progress.setMaximum(max(self.total_items, 1))
            page.progress.setValue(answered)
            page.progress.setVisible(self.total_items > 0)
        position = self.currentId() - 1
        if position in range(len(SECTION_ORDER)):
            step = self.sections.index(SECTION_ORDER[position]) + 1
            self.setWindowTitle(
                f"Tell us about yourself — section {step} of {len(self.sections)}"
                f" · {answered} of {self.total_items} statements answered"
            )

    def accept(self) -> None:
        reason = (
            "onboarding" if self.sections == SECTION_ORDER else "retake:" + ",".join(self.sections)
        )
        profile: Profile = service.complete(self.conn, reason)
        super().accept()
        self.completed.emit(profile)
