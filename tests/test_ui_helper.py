"""The GPU helper in the app: the Settings section (consent, token, test, save, turn off) and
training there from the Personalization page, with the fallback to this computer.

The keyring is an in-memory stand-in; "Test connection" talks to a real helper on loopback;
training either goes through a stand-in for `run_training` or, where the client's own behaviour
is the point (an unreachable helper, a cancelled job), through the real one against a helper that
trains nothing. No test trains a model.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QGroupBox, QMessageBox

from gravity_desktop.app_context import opened
from gravity_desktop.config import Settings, paths
from gravity_desktop.profile.answers import parse_answers
from gravity_desktop.profile.service import onboard
from gravity_desktop.training import helper_client
from gravity_desktop.training.helper_access import (
    KEYRING_SERVICE,
    NO_KEYRING,
    TOKEN_ENV,
    WHAT_IS_SENT,
    remember_helper,
    store_token,
)
from gravity_desktop.training.job import run_training as real_run_training
from gravity_desktop.ui.helper_section import TITLE, TOKEN_KEPT_PLACEHOLDER, HelperSection
from gravity_desktop.ui.operations import Operation
from tests.answer_patterns import all_answers
from tests.fake_helper import JOB, FakeHelper
from tests.helper_server import TOKEN, MemoryKeyring, RunningHelper, free_port, start_helper
from tests.reader_data import onboard_reader_with_pairs

URL = "https://gpu-box.example:8765"


@pytest.fixture(scope="module")
def helper(tmp_path_factory) -> RunningHelper:
    """A real helper on loopback over plain HTTP, for the connection test (it trains nothing)."""
    running = start_helper(tmp_path_factory.mktemp("ui-helper"))
    yield running
    running.stop()


@pytest.fixture
def window(qtbot, memory_keyring):
    from gravity_desktop.ui.main_window import MainWindow

    with opened() as ctx:
        onboard(ctx.conn, parse_answers({"country": "US", "answers": all_answers({"O": True})}))
    main = MainWindow()
    qtbot.addWidget(main)
    main.resize(1280, 800)
    main.show()
    yield main
    for operation in list(Operation.running):
        operation.cancel()
    qtbot.waitUntil(lambda: not Operation.running, timeout=60_000)
    main.close()


@pytest.fixture
def section(window) -> HelperSection:
    window.navigation.setCurrentRow(window.pages.indexOf(window.settings))
    return window.helper


@pytest.fixture
def errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Error dialogs of the section, collected instead of shown."""
    from gravity_desktop.ui import helper_section

    shown: list[BaseException] = []
    monkeypatch.setattr(helper_section, "show_error", lambda parent, exc: shown.append(exc))
    return shown


def plain(html_text: str) -> str:
    document = QTextDocument()
    document.setHtml(html_text)
    return " ".join(document.toPlainText().split())


def agree(section: HelperSection) -> None:
    dialog = section.ask_consent()
    dialog.agree.click()
    assert section.consent is None or not section.consent.isVisible()


def wait_idle(qtbot, section: HelperSection) -> None:
    qtbot.waitUntil(lambda: not section.busy, timeout=30_000)


def save(qtbot, section: HelperSection, url: str, token: str, ca_cert: str = "") -> None:
    section.url.setText(url)
    section.token.setText(token)
    section.ca_cert.setText(ca_cert)
    section.save.click()
    wait_idle(qtbot, section)


def turned_on(url: str) -> None:
    """A helper set up as Save leaves it: the token in the keyring, the address in settings."""
    store_token(url, TOKEN)
    where = paths()
    remember_helper(where, Settings.load(where), url, enabled=True)


def show_personalization(window):
    window.navigation.setCurrentRow(window.pages.indexOf(window.personalization))
    return window.personalization


# -- the Settings section -----------------------------------------------------------------------


def test_the_section_starts_off_between_the_training_pack_and_your_data(window, section) -> None:
    column = window.settings.column
    boxes = [column.itemAt(i).widget() for i in range(column.count())]
    titles = [box.title() for box in boxes if isinstance(box, QGroupBox)]
    assert titles == ["Models", "Training pack", TITLE, "Your data", "Appearance"]
    assert TITLE == "GPU helper (optional)"
    assert not section.enabled
    assert plain(section.state.text()).startswith("Off. Training runs on this computer")
    assert section.turn_on.isVisible() and not section.form.isVisible()
    assert not section.save.isVisible() and not section.test.isVisible()
    for control in (section.turn_on, section.url, section.token, section.ca_cert,
                    section.choose_ca, section.test, section.save, section.turn_off):  # fmt: skip
        assert control.accessibleName() and control.toolTip(), control


def test_declining_consent_leaves_it_off(window, section) -> None:
    section.turn_on.click()
    dialog = section.consent
    assert dialog is not None and dialog.isVisible()
    assert WHAT_IS_SENT in plain(dialog.text.text())  # what is sent, and what is not
    assert "Not sent: your answers, profile, reading history" in plain(dialog.text.text())
    assert dialog.agree.accessibleName() and dialog.decline.accessibleName()
    dialog.decline.click()
    assert not section.form.isVisible() and section.turn_on.isVisible()
    assert plain(section.state.text()).startswith("Off.")
    assert "helper" not in Settings.load().extra


def test_agreeing_and_saving_keeps_the_token_in_the_keyring_only(
    qtbot, window, section, memory_keyring: MemoryKeyring, errors
) -> None:
    agree(section)
    assert section.form.isVisible() and section.save.isVisible()
    assert not section.turn_on.isVisible()
    assert plain(section.state.text()).startswith("Not saved yet.")
    assert section.token.echoMode() == section.token.EchoMode.Password
    save(qtbot, section, "https://GPU-box.example:8765/", TOKEN)
    assert errors == []
    assert Settings.load().extra["helper"] == {"url": URL, "enabled": True, "ca_cert": None}
    assert memory_keyring.passwords == {(KEYRING_SERVICE, URL): TOKEN}
    assert TOKEN not in paths().settings_file.read_text(encoding="utf-8")
    assert section.token.text() == ""  # never shown again
    assert section.token.placeholderText() == TOKEN_KEPT_PLACEHOLDER
    assert section.enabled and plain(section.state.text()).startswith("On. Train now")
    assert URL in section.state.text() and section.result.text().startswith("Saved")
    # the Personalization page offers the helper at once, as the default
    page = window.personalization
    assert not page.train_where.isHidden() and page.train_where.currentData() == URL
    assert HelperSection().enabled  # remembered for the next start

    # saving again without typing the token keeps the one in the keyring
    save(qtbot, section, URL, "")
    assert errors == [] and memory_keyring.passwords == {(KEYRING_SERVICE, URL): TOKEN}
    # moving to another helper forgets the previous helper's token
    save(qtbot, section, "https://other-box.example", "another-token-of-enough-length")
    assert memory_keyring.passwords == {
        (KEYRING_SERVICE, "https://other-box.example"): "another-token-of-enough-length"
    }


def test_saving_needs_a_token(qtbot, section, memory_keyring: MemoryKeyring, errors) -> None:
    agree(section)
    save(qtbot, section, URL, "")
    assert len(errors) == 1 and "type the helper's token before saving" in str(errors[0])
    assert section.result.text().startswith("Saving failed: type the helper's token")
    assert "helper" not in Settings.load().extra and not section.enabled


def test_without_a_keyring_saving_says_what_to_do(qtbot, section, errors) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        agree(section)
        save(qtbot, section, URL, TOKEN)
    finally:
        keyring.set_keyring(previous)
    assert len(errors) == 1 and str(errors[0]) == NO_KEYRING
    assert NO_KEYRING in section.result.text() and "GRAVITY_HELPER_TOKEN" in section.result.text()
    assert "helper" not in Settings.load().extra and not section.enabled
    assert section.token.text() == TOKEN  # kept in the field to try again


def test_plain_http_off_this_computer_is_refused(qtbot, section, errors) -> None:
    agree(section)
    save(qtbot, section, "http://gpu-box.example:8765", TOKEN)
    assert len(errors) == 1 and "plain http would send the token" in str(errors[0])
    assert "helper" not in Settings.load().extra


def test_test_connection_shows_the_helper_or_the_refusal(
    qtbot, section, helper: RunningHelper, memory_keyring: MemoryKeyring, errors
) -> None:
    agree(section)
    section.url.setText(helper.url)
    section.token.setText(TOKEN)
    section.test.click()
    assert section.busy and not section.test.isEnabled()
    wait_idle(qtbot, section)
    assert section.result.text().startswith(f"Connected: {helper.url}: gravity-gpu-helper ")
    assert "device auto, idle" in section.result.text()

    section.token.setText("not-the-right-token-at-all")
    section.test.click()
    wait_idle(qtbot, section)
    assert section.result.text().startswith(
        f"Connection test failed: the GPU helper at {helper.url} refused the token"
    )
    assert errors == []  # a readable failure is said in the section, not in a dialog
    # testing saves nothing
    assert memory_keyring.passwords == {} and "helper" not in Settings.load().extra

    # once saved, the token comes from the keyring
    save(qtbot, section, helper.url, TOKEN)
    section.test.click()
    wait_idle(qtbot, section)
    assert section.result.text().startswith("Connected: ")


def test_an_unreachable_helper_is_named(qtbot, section, errors) -> None:
    agree(section)
    url = f"http://127.0.0.1:{free_port()}"
    section.url.setText(url)
    section.token.setText(TOKEN)
    section.test.click()
    wait_idle(qtbot, section)
    assert section.result.text().startswith("Connection test failed: cannot reach the GPU helper")


def test_a_certificate_is_copied_kept_and_dropped(
    qtbot, section, tmp_path: Path, memory_keyring: MemoryKeyring, errors
) -> None:
    chosen = tmp_path / "cert.pem"
    chosen.write_text("-----BEGIN CERTIFICATE-----\n...\n", encoding="utf-8")
    kept = paths().root / "helper-ca.pem"
    agree(section)
    save(qtbot, section, URL, TOKEN, str(chosen))
    assert errors == [] and kept.read_bytes() == chosen.read_bytes()
    assert Settings.load().extra["helper"]["ca_cert"] == str(kept)
    assert section.ca_cert.text() == str(kept) and "certificate" in section.state.text()

    save(qtbot, section, URL, "", section.ca_cert.text())  # the field names the copy itself
    assert errors == [] and Settings.load().extra["helper"]["ca_cert"] == str(kept)
    # a new address needs its token typed (a token only goes where the reader sent it) ...
    save(qtbot, section, "https://renamed-box.example", "", section.ca_cert.text())
    assert len(errors) == 1 and "type the helper's token before saving" in str(errors.pop())
    assert Settings.load().extra["helper"]["url"] == URL  # a failed Save changes nothing
    # ... and keeps trusting the certificate copy the field still names
    save(qtbot, section, "https://renamed-box.example", TOKEN, section.ca_cert.text())
    assert errors == [] and Settings.load().extra["helper"]["ca_cert"] == str(kept)
    assert kept.read_bytes() == chosen.read_bytes()

    save(qtbot, section, "https://renamed-box.example", "", "")  # emptied: trusted no more
    assert errors == [] and Settings.load().extra["helper"]["ca_cert"] is None
    assert not kept.exists()


def test_turning_off_forgets_the_token_and_the_settings(
    qtbot, window, section, memory_keyring: MemoryKeyring, tmp_path: Path, errors
) -> None:
    chosen = tmp_path / "cert.pem"
    chosen.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    agree(section)
    save(qtbot, section, URL, TOKEN, str(chosen))
    assert memory_keyring.passwords and section.enabled
    section.turn_off.click()
    wait_idle(qtbot, section)
    assert errors == [] and memory_keyring.passwords == {}
    assert "helper" not in Settings.load().extra
    assert not (paths().root / "helper-ca.pem").exists()
    assert not section.enabled and section.turn_on.isVisible() and not section.form.isVisible()
    assert section.result.text().startswith("Turned off")
    assert section.url.text() == "" and section.ca_cert.text() == ""
    assert window.personalization.train_where.isHidden()


def test_delete_my_data_also_forgets_the_token(
    window, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, gravity_home: Path
) -> None:
    turned_on(URL)
    store_token("https://unrelated.example", "kept-for-someone-else")
    told = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: told.append(a[2]))
    window.delete_all_data()
    assert memory_keyring.passwords == {
        (KEYRING_SERVICE, "https://unrelated.example"): "kept-for-someone-else"
    }
    assert len(told) == 1 and told[0].startswith("Your data was deleted")
    assert list(gravity_home.iterdir()) == []  # the settings with the address went too


# -- training on the helper ---------------------------------------------------------------------


HELPER_EVENTS = [
    {"event": "uploading", "bytes": 98_000_000},
    {"event": "accepted", "job": JOB, "pairs": 12},
    {"event": "start", "method": "gravity", "device": "cuda", "gpu": "NVIDIA H100"},
    {"event": "base_ready", "path": "/helper/trainable-base"},
    {"event": "progress", "step": 1, "max_steps": 4, "loss": 0.69, "reward_accuracy": 0.5},
    {"event": "progress", "step": 2, "max_steps": 4, "loss": 0.61, "reward_accuracy": 0.75},
    {"event": "exporting"},
    {"event": "exported", "sha256": "a" * 64, "size": 2_400_000},
    {"event": "downloading"},
]


def test_train_now_goes_to_the_helper_by_default_with_the_live_chart(
    qtbot, window, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gravity_desktop.ui import personalization_page

    calls: list[dict] = []
    release = threading.Event()

    def stand_in(ctx, config, on_event, cancel, **kwargs):
        calls.append(kwargs)
        for event in HELPER_EVENTS:
            on_event(event)
        release.wait(30)
        return SimpleNamespace(message="Trained on the helper (stand-in).", activated=False)

    monkeypatch.setattr(personalization_page, "run_training", stand_in)
    turned_on(URL)
    page = show_personalization(window)
    assert not page.train_where.isHidden()
    assert [page.train_where.itemText(i) for i in range(page.train_where.count())] == [
        "on the GPU helper", "on this computer"]  # fmt: skip
    assert page.train_where.currentIndex() == 0
    page.train.click()
    assert page.status.text() == f"Preparing training on the GPU helper at {URL}…"
    assert page.cancel.isEnabled() and not page.train.isEnabled()
    qtbot.waitUntil(
        lambda: page.status.text() == "Fetching the adapter from the GPU helper…", timeout=10_000
    )
    assert page.loss.count() == 2 and page.accuracy.count() == 2
    assert page.progress.value() == 2 and page.progress.maximum() == 4
    release.set()
    qtbot.waitUntil(lambda: page.train.isEnabled(), timeout=10_000)
    assert page.status.text() == "Trained on the helper (stand-in)."
    assert calls == [{"helper": URL}]

    page.train_where.setCurrentIndex(1)  # on this computer
    page.train.click()
    qtbot.waitUntil(lambda: page.train.isEnabled(), timeout=10_000)
    assert calls[-1] == {}  # local training, as without a helper
    page.refresh()
    assert page.train_where.currentIndex() == 1  # the reader's pick stays


def test_the_helper_steps_are_said_in_words(window) -> None:
    page = window.personalization
    page.training_on = URL
    said = []
    for event in HELPER_EVENTS:
        page.training_event(event)
        said.append(page.status.text())
    assert said == [
        "Sending the base model to the GPU helper (98 MB; only the first time)…",
        "The GPU helper took the job (12 training pairs)…",
        "Training on the GPU helper's NVIDIA H100, preparing the model…",
        "Model ready, training…",
        "Training: step 1 of 4",
        "Training: step 2 of 4",
        "The GPU helper is converting the adapter for llama.cpp…",
        "The adapter is ready on the GPU helper (2.4 MB)…",
        "Fetching the adapter from the GPU helper…",
    ]
    page.training_on = None  # a local worker's start event changes nothing
    page.training_event({"event": "start", "method": "gravity", "device": "cpu"})
    assert page.status.text() == "Fetching the adapter from the GPU helper…"


def test_a_helper_failure_offers_training_on_this_computer(
    qtbot, window, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gravity_desktop.ui import personalization_page

    onboard_reader_with_pairs()
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    turned_on(url)
    local: list[dict] = []

    def real_on_the_helper_stand_in_here(ctx, config, on_event, cancel, **kwargs):
        if "helper" in kwargs:
            return real_run_training(ctx, config, on_event, cancel, **kwargs)
        local.append(kwargs)
        return SimpleNamespace(message="Trained here (stand-in).", activated=False)

    monkeypatch.setattr(personalization_page, "run_training", real_on_the_helper_stand_in_here)
    page = show_personalization(window)
    page.train.click()
    qtbot.waitUntil(lambda: page.fallback_offer is not None, timeout=30_000)
    offer = page.fallback_offer
    assert offer.isVisible() and page.train.isEnabled()
    assert offer.text().startswith(f"cannot reach the GPU helper at {url}")
    assert "training on this computer is still available" in offer.text()
    assert page.status.text().startswith("Training on the GPU helper failed: cannot reach")
    with opened() as ctx:
        assert list(ctx.paths.adapters.iterdir()) == []  # nothing half-written stays
    button = next(b for b in offer.buttons() if b.text() == "Train on this computer")
    button.click()
    qtbot.waitUntil(lambda: bool(local) and page.train.isEnabled(), timeout=10_000)
    assert local == [{}]
    assert page.status.text() == "Trained here (stand-in)."


def test_cancel_deletes_the_job_on_the_helper(
    qtbot, window, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gravity_desktop.ui import personalization_page

    onboard_reader_with_pairs()
    fake = FakeHelper(b"never fetched")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    where = paths()
    remember_helper(where, Settings.load(where), fake.url, enabled=True)
    submitted, proceed = threading.Event(), threading.Event()
    submit = helper_client.HelperClient.submit

    def gated_submit(self, *args, **kwargs):  # holds the job until the test has pressed Cancel
        job = submit(self, *args, **kwargs)
        submitted.set()
        proceed.wait(30)
        return job

    monkeypatch.setattr(helper_client.HelperClient, "submit", gated_submit)
    monkeypatch.setattr(personalization_page, "run_training", real_run_training)
    page = show_personalization(window)
    try:
        page.train.click()
        qtbot.waitUntil(submitted.is_set, timeout=30_000)
        page.cancel.click()
        proceed.set()
        qtbot.waitUntil(lambda: page.train.isEnabled(), timeout=30_000)
    finally:
        proceed.set()
        fake.close()
    assert len(fake.uploads) == 1  # the pairs went; the helper had the base already
    assert fake.deleted and set(fake.deleted) == {f"/jobs/{JOB}"}
    assert page.status.text() == "training on the GPU helper stopped; its data there is deleted"
    assert page.fallback_offer is None
    with opened() as ctx:
        assert list(ctx.paths.adapters.iterdir()) == []


def test_weights_and_several_gpus_are_said_in_words(window) -> None:
    page = window.personalization
    page.training_on = URL
    page.training_event({"event": "uploading_weights", "bytes": 270_000_000})
    assert page.status.text() == (
        "Sending the model's Hugging Face weights to the GPU helper (270 MB; only the first time)…"
    )
    page.training_event({"event": "start", "device": "cuda", "gpu": "NVIDIA H100", "processes": 4})
    assert page.status.text() == (
        "Training on the GPU helper's NVIDIA H100 (4 processes), preparing the model…"
    )
