"""The Training pack section of Settings: what it says in each case, install, cancel, remove.

The pack archives are the small stand-ins from `tests/pack_fixtures.py` (a real `pack.json` and
a script for the worker); "an installed app" is `sys.frozen` with no torch, as in the installer
tests. File dialogs are answered by stand-ins; the confirmation is clicked as a reader would.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from gravity_desktop import __version__, packs
from gravity_desktop.ui import work_section
from gravity_desktop.ui.operations import Operation
from gravity_desktop.ui.pack_section import NOT_NEEDED, PackSection
from tests.pack_fixtures import frozen_without_torch, make_pack


@pytest.fixture
def section(qtbot):
    shown = PackSection()
    qtbot.addWidget(shown)
    shown.show()
    yield shown
    for operation in list(Operation.running):
        operation.cancel()
    qtbot.waitUntil(lambda: not Operation.running, timeout=30_000)


@pytest.fixture
def errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Error dialogs of the section, collected instead of shown."""
    shown: list[BaseException] = []
    monkeypatch.setattr(work_section, "show_error", lambda parent, exc: shown.append(exc))
    return shown


@pytest.fixture
def installed_app(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen_without_torch(monkeypatch)


def wait_idle(qtbot, section: PackSection) -> None:
    qtbot.waitUntil(lambda: not section.busy, timeout=30_000)


def test_from_a_checkout_with_torch_install_is_not_needed(
    qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packs, "training_stack_here", lambda: True)
    section = PackSection()
    qtbot.addWidget(section)
    assert section.state.text().startswith("<b>Available.</b> GRAVITY Desktop runs from source")
    assert "No training pack is needed" in section.state.text()
    assert not section.install.isEnabled() and section.install.toolTip() == NOT_NEEDED
    assert not section.remove.isEnabled()  # nothing to remove
    monkeypatch.setattr(packs, "training_stack_here", lambda: False)
    section.refresh()
    assert "make install-train" in section.state.text()
    assert not section.install.isEnabled()  # a checkout never uses a pack


def test_an_installed_app_says_which_pack_to_get(installed_app, section: PackSection) -> None:
    text = section.state.text()
    assert text.startswith("<b>Not installed.</b>") and packs.archive_name() in text
    assert section.install.isEnabled() and packs.archive_name() in section.install.toolTip()
    assert not section.remove.isEnabled()
    assert section.progress.isHidden() and section.cancel.isHidden()
    for control in (section.install, section.remove, section.cancel, section.progress):
        assert control.accessibleName()
    for control in (section.install, section.remove, section.cancel):
        assert control.toolTip()


def test_install_shows_progress_then_the_installed_pack(
    qtbot, installed_app, section: PackSection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = make_pack(tmp_path, padding=2_000_000)
    asked = []

    def choose(parent, caption, folder, filters):
        asked.append(filters)
        return str(archive), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", choose)
    seen: list[tuple[int, int]] = []
    section.progress.valueChanged.connect(lambda v: seen.append((v, section.progress.maximum())))
    section.install.click()
    assert "*.tar.gz" in asked[0] and "*.zip" in asked[0]
    assert section.busy and not section.install.isEnabled() and section.cancel.isEnabled()
    wait_idle(qtbot, section)
    assert section.status.text() == (
        f"Installed training pack {__version__} ({packs.platform_tag()}) from pack.tar.gz."
        " Training and book embeddings can run now."
    )
    assert seen and seen[-1][0] == seen[-1][1] > 1000  # kB of the archive, all of it
    assert section.state.text().startswith(f"<b>Installed:</b> training pack {__version__}")
    assert section.remove.isEnabled() and section.install.isEnabled()  # replacing is allowed
    assert section.progress.isHidden()
    assert packs.installed_pack() is not None


def test_a_bad_archive_is_reported_and_the_old_pack_stays(
    qtbot, installed_app, section: PackSection, tmp_path: Path, errors
) -> None:
    good = packs.install_pack(make_pack(tmp_path))
    (tmp_path / "old").mkdir()
    section.start_install(make_pack(tmp_path / "old", version="0.0.1"))
    wait_idle(qtbot, section)
    assert section.status.text().startswith("Installing the training pack failed: ")
    assert "is for GRAVITY Desktop 0.0.1" in section.status.text()
    assert len(errors) == 1 and "is for GRAVITY Desktop 0.0.1" in str(errors[0])
    assert packs.installed_pack() == good
    assert "<b>Installed:</b>" in section.state.text()


def test_cancel_stops_installing_and_keeps_the_old_pack(
    qtbot, installed_app, section: PackSection, tmp_path: Path, monkeypatch, errors
) -> None:
    good = packs.install_pack(make_pack(tmp_path))
    real_install = packs.install_pack
    gate = threading.Event()

    def held(archive, where, progress):
        """Unpacks only once the test has pressed Cancel."""

        def after_cancel(done: int, total: int) -> None:
            gate.wait(10)
            progress(done, total)

        return real_install(archive, where, after_cancel)

    monkeypatch.setattr(packs, "install_pack", held)
    (tmp_path / "new").mkdir()
    section.start_install(make_pack(tmp_path / "new", padding=500_000))
    section.cancel.click()
    gate.set()
    wait_idle(qtbot, section)
    assert section.status.text() == "Installation stopped; nothing was changed."
    assert not errors and packs.installed_pack() == good
    assert not (good.root / "gravity-worker" / "_internal").exists()  # the new one's files


def test_remove_asks_first(qtbot, installed_app, section: PackSection, tmp_path: Path) -> None:
    packs.install_pack(make_pack(tmp_path))
    section.refresh()
    assert section.remove.isEnabled()

    def answer(label: str) -> None:
        box = section.confirm_remove()
        assert "Your adapters, pairs and other data stay" in box.text()
        assert box.defaultButton().text() == "Keep it"
        assert all(button.accessibleName() for button in box.buttons())
        next(b for b in box.buttons() if b.text() == label).click()

    answer("Keep it")
    assert not section.busy and packs.installed_pack() is not None
    answer("Remove")
    wait_idle(qtbot, section)
    assert section.status.text() == "Training pack removed."
    assert packs.installed_pack() is None and not packs.pack_dir().exists()
    assert section.state.text().startswith("<b>Not installed.</b>")
    assert not section.remove.isEnabled()
