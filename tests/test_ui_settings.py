from __future__ import annotations

import functools
import time
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QFileDialog, QGroupBox, QLabel, QMessageBox

from gravity_desktop.app_context import opened
from gravity_desktop.config import Settings
from gravity_desktop.llm.model_files import download_model
from gravity_desktop.llm.registry import find_model
from gravity_desktop.profile.answers import parse_answers
from gravity_desktop.profile.service import onboard
from gravity_desktop.ui.operations import Operation
from tests.answer_patterns import all_answers
from tests.gguf_fixtures import write_tiny_model
from tests.hub_server import FakeHub, serve
from tests.reader_data import fill_reader_data

HUB_MODEL = "qwen2.5-1.5b-instruct-q4_k_m"
EXPORTED = {"manifest.json", "gravity.sqlite3", "settings.json",
            "adapters/20260101-000000-gravity.gguf"}  # fmt: skip


@pytest.fixture
def window(qtbot):
    """The main window without its model: these tests load one only where they need it."""
    from gravity_desktop.ui.main_window import MainWindow

    with opened() as ctx:
        onboard(ctx.conn, parse_answers({"country": "US", "answers": all_answers({"O": True})}))
    main = MainWindow()
    qtbot.addWidget(main)
    main.resize(1280, 800)
    main.show()
    yield main
    main.close()


@pytest.fixture
def settings_page(window):
    window.navigation.setCurrentRow(window.pages.indexOf(window.settings))
    assert window.navigation.currentItem().text() == "Settings"
    return window.settings


def wait_idle(qtbot, section) -> None:
    qtbot.waitUntil(lambda: not section.busy, timeout=60_000)


def row_of(section, model_id: str) -> int:
    return next(i for i, m in enumerate(section.models) if m.entry.id == model_id)


def test_the_registry_models_are_listed(settings_page) -> None:
    section = settings_page.models
    table = section.table
    names = [table.item(row, 0).text() for row in range(table.rowCount())]
    assert "SmolLM2 135M Instruct (Q4_1)" in names and "Qwen2.5 1.5B Instruct (Q4_K_M)" in names
    bundled = row_of(section, "smollm2-135m-instruct-q4_1")
    assert [table.item(bundled, c).text() for c in range(1, 5)] == [
        "descriptions, teacher", "98.4 MB", "Apache-2.0", "bundled with the app"]  # fmt: skip
    assert table.item(row_of(section, HUB_MODEL), 4).text() == "not downloaded"
    section.table.selectRow(bundled)
    assert not section.download.isEnabled()  # nothing to download
    section.table.selectRow(row_of(section, HUB_MODEL))
    assert section.download.isEnabled()
    assert [section.served.itemText(i) for i in range(section.served.count())] == [
        "SmolLM2 135M Instruct (Q4_1)"]  # fmt: skip


def test_imported_model_can_be_chosen_to_serve_and_to_teach(
    qtbot, window, settings_page, tmp_path: Path, monkeypatch
) -> None:
    section = settings_page.models
    chosen = write_tiny_model(tmp_path / "Tiny-Qwen.gguf", "qwen2")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(chosen), ""))
    section.import_button.click()
    assert section.busy and not section.import_button.isEnabled()
    wait_idle(qtbot, section)
    assert section.status.text().startswith("Imported Tiny-Qwen.gguf as tiny-qwen (qwen2")
    assert section.table.item(row_of(section, "tiny-qwen"), 4).text() == "imported"

    index = section.served.findData("tiny-qwen")
    assert index >= 0
    section.served.setCurrentIndex(index)
    section.served.activated.emit(index)  # what choosing it with mouse or keyboard sends
    assert Settings.load().serve_model == "tiny-qwen"
    assert window.model_label.text() == "Loading the model…"  # the engine reloads
    # The stand-in model has a valid header but no weights, so the reload names it and fails.
    qtbot.waitUntil(lambda: bool(window.load_error), timeout=60_000)
    assert "Tiny-Qwen.gguf" in window.model_label.text()

    teacher = section.teacher.findData("tiny-qwen")
    section.teacher.setCurrentIndex(teacher)
    section.teacher.activated.emit(teacher)
    assert Settings.load().teacher_model == "tiny-qwen"
    assert Settings.load().serve_model == "tiny-qwen"  # one choice does not undo the other


def test_a_failed_import_is_reported(qtbot, settings_page, tmp_path: Path, monkeypatch) -> None:
    from gravity_desktop.ui import work_section

    shown = []
    monkeypatch.setattr(work_section, "show_error", lambda parent, exc: shown.append(exc))
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model")
    section = settings_page.models
    section.start_import(broken)
    wait_idle(qtbot, section)
    assert section.status.text().startswith("Import failed: ")
    assert len(shown) == 1 and "broken.gguf" in str(shown[0])


def test_download_shows_progress_and_the_verified_checksum(
    qtbot, settings_page, tmp_path: Path, monkeypatch
) -> None:
    from gravity_desktop.ui import models_section

    content = write_tiny_model(tmp_path / "tiny.gguf", "qwen2").read_bytes()
    content += b"\x00" * (400_000 - len(content))
    hub = FakeHub()
    with opened() as ctx:
        entry = find_model(ctx.paths, ctx.conn, HUB_MODEL).entry
    digest = hub.add(entry.source.repo, entry.source.file, content)
    section = settings_page.models
    seen: list[tuple[int, int]] = []
    section.progress.valueChanged.connect(lambda v: seen.append((v, section.progress.maximum())))
    with serve(hub):
        monkeypatch.setattr(
            models_section, "download_model", functools.partial(download_model, endpoint=hub.url)
        )
        section.table.selectRow(row_of(section, HUB_MODEL))
        section.start_download()
        assert section.progress.isVisible() and section.cancel.isEnabled()
        wait_idle(qtbot, section)
    assert f"checksum verified (sha256 {digest[:12]}" in section.status.text()
    assert seen and seen[-1] == (len(content) // 1024, len(content) // 1024)
    assert section.table.item(row_of(section, HUB_MODEL), 4).text() == "installed"
    assert section.served.findData(HUB_MODEL) >= 0  # now offered as the served model
    assert not section.progress.isVisible()


def test_cancel_stops_a_download(qtbot, settings_page, monkeypatch) -> None:
    from gravity_desktop.ui import models_section

    def slow_download(where, conn, model, progress):
        for done in range(1000):
            progress(done * 1024, 1000 * 1024)  # raises once Cancel was pressed
            time.sleep(0.01)
        raise AssertionError("the download was not stopped")

    monkeypatch.setattr(models_section, "download_model", slow_download)
    section = settings_page.models
    section.table.selectRow(row_of(section, HUB_MODEL))
    section.start_download()
    qtbot.waitUntil(lambda: section.progress.value() > 0, timeout=10_000)
    section.cancel.click()
    wait_idle(qtbot, section)
    assert "stopped; downloading again resumes it" in section.status.text()
    assert section.download.isEnabled()


def test_export_writes_one_archive(qtbot, settings_page, tmp_path: Path, monkeypatch) -> None:
    fill_reader_data()
    data = settings_page.data
    chosen = tmp_path / "my-gravity-data"  # no suffix typed: .zip is added
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(chosen), ""))
    data.export_button.click()
    qtbot.waitUntil(lambda: data.last_export is not None, timeout=30_000)
    target = chosen.with_suffix(".zip")
    assert data.last_export.path == target
    with zipfile.ZipFile(target) as archive:
        assert set(archive.namelist()) == EXPORTED
    assert data.status.text().startswith(f"Exported to {target}")
    assert "thumbs up or down: 1; trained adapters: 1" in data.status.text()


def test_cancelled_deletion_keeps_everything_and_can_export_first(
    qtbot, window, settings_page, tmp_path: Path, monkeypatch
) -> None:
    reader = fill_reader_data()
    before = sorted(p.relative_to(reader.root) for p in reader.root.rglob("*"))
    dialog = settings_page.data.confirm_delete()
    assert dialog.isVisible()
    summary = dialog.summary.text()
    assert str(reader.root) in summary
    for expected in ("thumbs up or down: 1", "books in your reading history: 1",
                     "adapters/ (trained adapters", "models/ (downloaded and imported models",
                     "gravity.sqlite3 (the database"):  # fmt: skip
        assert expected in summary

    target = tmp_path / "before-deleting.zip"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: target.exists(), timeout=30_000)
    qtbot.waitUntil(lambda: "Exported to" in dialog.export_status.text(), timeout=10_000)

    assert not dialog.delete_button.isEnabled()
    dialog.confirmation.setText("delete")
    assert dialog.delete_button.isEnabled()
    dialog.confirmation.setText("delet")
    assert not dialog.delete_button.isEnabled()
    dialog.reject()
    assert not dialog.isVisible()
    assert window.isVisible()
    after = sorted(p.relative_to(reader.root) for p in reader.root.rglob("*"))
    assert [p for p in after if "wal" not in p.name and "shm" not in p.name] == [
        p for p in before if "wal" not in p.name and "shm" not in p.name
    ]
    with opened() as ctx:
        assert ctx.conn.execute("SELECT count(*) FROM feedback").fetchone()[0] == 1


def test_confirmed_deletion_stops_work_empties_the_data_dir_and_closes(
    qtbot, window, settings_page, monkeypatch
) -> None:
    reader = fill_reader_data()
    told = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: told.append(a[2]))
    blocker = Operation(window, op=lambda ctx: ctx.cancel_token._event.wait(30), success=bool)
    window.personalization.operation = blocker.run_in_background()

    dialog = settings_page.data.confirm_delete()
    dialog.confirmation.setText("DELETE")
    dialog.delete_button.click()

    assert blocker.cancel_token.cancelled
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    assert not window.isVisible()
    assert list(reader.root.iterdir()) == []
    assert len(told) == 1 and "Your data was deleted (adapters, gravity.sqlite3" in told[0]
    assert "the next start begins again with the welcome page" in told[0]
    window.close()  # closing again writes nothing
    assert list(reader.root.iterdir()) == []


def test_later_sections_go_between_models_and_your_data(settings_page) -> None:
    settings_page.add_section("GPU helper", QLabel("helper settings"))
    column = settings_page.column
    boxes = [column.itemAt(i).widget() for i in range(column.count())]
    titles = [box.title() for box in boxes if isinstance(box, QGroupBox)]
    assert titles == [
        "Models", "Training pack", "GPU helper (optional)", "GPU helper", "Your data", "Appearance"
    ]  # fmt: skip
    assert "follows your system's light or dark appearance" in settings_page.appearance.text()


def test_a_deletion_that_cannot_finish_says_what_is_left(
    qtbot, window, settings_page, monkeypatch
) -> None:
    from gravity_desktop.errors import UserError
    from gravity_desktop.ui import main_window

    def stuck(where):
        raise UserError(f"could not delete {where.root / 'models'} (Permission denied)")

    warned = []
    monkeypatch.setattr(main_window, "delete_data", stuck)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    dialog = settings_page.data.confirm_delete()
    dialog.confirmation.setText("DELETE")
    dialog.delete_button.click()
    assert len(warned) == 1 and warned[0].startswith("Not everything could be deleted: could not")
    assert not window.isVisible()  # the connections are closed: the app cannot go on
