"""The "GPU helper (optional)" section of Settings: opt in, set the helper up, test it, opt out.

The section starts off. *Turn on…* first shows what training on a helper sends and what it does
not (`helper_access.WHAT_IS_SENT`); only after *I agree* do the address, token and certificate
fields appear. The token goes to the system keyring on *Save* and is never shown again (the field
is emptied); the address, the opt-in and a copy of the certificate go to the settings. *Test
connection* asks the helper who it is with the token, off the GUI thread. *Turn off* forgets the
token and the settings. Keyring calls run off the GUI thread as well: a locked keyring may ask
its own questions before it answers.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gravity_desktop.config import Paths, Settings, paths
from gravity_desktop.errors import UserError
from gravity_desktop.training.helper_access import (
    NO_KEYRING,
    SETTINGS_KEY,
    WHAT_IS_SENT,
    HelperChoice,
    ca_cert_for,
    forget_helper,
    forget_remembered_token,
    forget_token,
    helper_choice,
    load_token,
    normalize_url,
    remember_helper,
    store_token,
)
from gravity_desktop.training.helper_client import check_connection
from gravity_desktop.ui.operations import Operation, OperationContext, show_error

TITLE = "GPU helper (optional)"
TOKEN_PLACEHOLDER = "paste the token from the helper's token file"
FORGOTTEN = "Turned off: the helper's token, address and certificate are forgotten."
TOKEN_KEPT_PLACEHOLDER = "kept in your system keyring; type a new one to replace it"


class ConsentDialog(QDialog):
    """What a GPU helper receives, in full, before anything about it can be entered."""

    def __init__(self, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train on a GPU helper?")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.text = QLabel(
            "<p>A GPU helper is a machine of yours (or one you rent) with a graphics card, running"
            " <tt>gravity-gpu-helper</tt>. It trains your adapter faster than this computer."
            " None of your data is sent to it until you train there (<i>Test connection</i>"
            " sends only the token).</p>"
            f"<p>{html.escape(WHAT_IS_SENT)}</p>"
            "<p>The helper's token is kept in your system keyring, never in GRAVITY Desktop's"
            " files. You can turn the helper off at any time; training on this computer always"
            " stays available.</p>"
        )
        self.text.setObjectName("helperConsentText")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox()
        self.agree = self.buttons.addButton("I agree", QDialogButtonBox.ButtonRole.AcceptRole)
        self.agree.setAccessibleName("I agree: let me set up a GPU helper")
        self.decline = self.buttons.addButton("Keep it off", QDialogButtonBox.ButtonRole.RejectRole)
        self.decline.setAccessibleName("Keep the GPU helper off")
        self.decline.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(self.buttons)
        self.resize(560, self.sizeHint().height())


class HelperSection(QWidget):
    def __init__(self, changed: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.changed = changed
        self.consent: ConsentDialog | None = None
        self.operation: Operation | None = None
        self.busy = False
        self.agreed = False  # in this session, before anything is saved
        self.choice: HelperChoice | None = None

        self.state = QLabel()
        self.state.setObjectName("helperState")
        self.state.setWordWrap(True)
        self.state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.turn_on = QPushButton("Turn on…")
        self.turn_on.setAccessibleName("Turn on the GPU helper")
        self.turn_on.setToolTip(
            "Shows what a GPU helper receives and asks for your agreement first."
        )
        self.turn_on.clicked.connect(self.ask_consent)

        self.url = QLineEdit()
        self.url.setPlaceholderText("https://gpu-box:8765")
        self.url.setAccessibleName("GPU helper address")
        self.url.setToolTip(
            "The helper's address, as `gravity-gpu-helper serve` listens: https://HOST:PORT,"
            " or http://127.0.0.1:PORT through an SSH tunnel."
        )
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(TOKEN_PLACEHOLDER)
        self.token.setAccessibleName("GPU helper token")
        self.token.setToolTip(
            "The token from the helper's token file. Saved in your system keyring, never shown"
            " again and never written to GRAVITY Desktop's files."
        )
        self.ca_cert = QLineEdit()
        self.ca_cert.setPlaceholderText("optional: the helper's certificate (cert.pem)")
        self.ca_cert.setAccessibleName("Certificate to trust for the GPU helper")
        self.ca_cert.setToolTip(
            "Only for a helper with a self-signed certificate: its cert.pem (not the key). It is"
            " copied into your data folder and trusted for this helper only. Leave empty for a"
            " certificate your system already trusts, or for an SSH tunnel."
        )
        self.choose_ca = QPushButton("Choose…")
        self.choose_ca.setAccessibleName("Choose the helper's certificate file")
        self.choose_ca.setToolTip("Pick the helper's certificate file (PEM).")
        self.choose_ca.clicked.connect(self.choose_certificate)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_cert, 1)
        ca_row.addWidget(self.choose_ca)

        self.test = QPushButton("Test connection")
        self.test.setAccessibleName("Test the connection to the GPU helper")
        self.test.setToolTip(
            "Asks the helper for its version and device with the token; sends none of your data."
        )
        self.test.clicked.connect(self.start_test)
        self.save = QPushButton("Save")
        self.save.setAccessibleName("Save the GPU helper settings")
        self.save.setToolTip("Keeps the token in your system keyring and turns the helper on.")
        self.save.clicked.connect(self.start_save)
        self.turn_off = QPushButton("Turn off")
        self.turn_off.setAccessibleName("Turn off the GPU helper")
        self.turn_off.setToolTip(
            "Forgets the helper's token (in the keyring), its address and its certificate."
        )
        self.turn_off.clicked.connect(self.start_turn_off)
        self.result = QLabel("")
        self.result.setObjectName("helperResult")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.hide()

        self.form = QWidget()
        form = QFormLayout(self.form)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Address:", self.url)
        form.addRow("Token:", self.token)
        form.addRow("Certificate:", ca_row)
        buttons = QHBoxLayout()
        for button in (self.turn_on, self.test, self.save, self.turn_off):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.state)
        layout.addWidget(self.form)
        layout.addLayout(buttons)
        layout.addWidget(self.result)
        self.refresh()

    # -- state ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Show what the settings say (off, or on with the helper's address)."""
        choice = helper_choice(Settings.load())
        self.choice = choice if choice is not None and choice.enabled else None
        if self.choice is not None:
            self.url.setText(self.choice.url)
            self.ca_cert.setText(str(self.choice.ca_cert) if self.choice.ca_cert else "")
            self.token.clear()
            self.token.setPlaceholderText(TOKEN_KEPT_PLACEHOLDER)
        elif choice is not None and not self.url.text():
            self.url.setText(choice.url)  # remembered but off: offered again after consent
        self._show_state()

    @property
    def enabled(self) -> bool:
        return self.choice is not None

    def _show_state(self) -> None:
        if self.choice is not None:
            certificate = (
                " Its certificate is trusted from the copy in your data folder."
                if self.choice.ca_cert
                else ""
            )
            text = (
                f"<b>On.</b> <i>Train now</i> on the Personalization page can train on the GPU"
                f" helper at <b>{html.escape(self.choice.url)}</b>; its token is kept in your"
                f" system keyring.{certificate}"
            )
        elif self.agreed:
            text = (
                "<b>Not saved yet.</b> Enter the helper's address and token, then <i>Save</i>."
                " <i>Test connection</i> sends only the token."
            )
        else:
            text = (
                "<b>Off.</b> Training runs on this computer, and nothing is sent anywhere. A GPU"
                " helper (another machine of yours with a graphics card) can train faster; turn"
                " it on to see what it would receive."
            )
        self.state.setText(text)
        open_ = self.agreed or self.choice is not None
        self.form.setVisible(open_)
        self.turn_on.setVisible(not open_)
        for button in (self.test, self.save, self.turn_off):
            button.setVisible(open_)
        self._set_busy(self.busy)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for control in (self.turn_on, self.test, self.save, self.turn_off, self.choose_ca):
            control.setEnabled(not busy)
        for field in (self.url, self.token, self.ca_cert):
            field.setReadOnly(busy)

    def say(self, message: str) -> None:
        self.result.setText(message)
        self.result.setVisible(bool(message))

    # -- consent ----------------------------------------------------------------------------

    def ask_consent(self) -> ConsentDialog:
        self.consent = ConsentDialog(self.window())
        self.consent.accepted.connect(self._agreed)
        self.consent.finished.connect(self._consent_closed)
        self.consent.open()
        return self.consent

    def _agreed(self) -> None:
        self.agreed = True
        self.say("")
        self._show_state()
        self.url.setFocus()

    def _consent_closed(self) -> None:
        if self.consent is not None:
            self.consent.deleteLater()
            self.consent = None

    def choose_certificate(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, "The GPU helper's certificate", str(Path.home()),
            "PEM certificate (*.pem *.crt);;All files (*)",
        )  # fmt: skip
        if chosen:
            self.ca_cert.setText(chosen)

    # -- background work --------------------------------------------------------------------

    def _run(
        self,
        op: Callable[[OperationContext], object],
        success: Callable[[object], None],
        what: str,
        doing: str,
        *,
        quiet: bool = False,
    ) -> Operation:
        """Run `op` off the GUI thread; a failure is said under the buttons (and in a dialog,
        unless `quiet` and the failure is a readable one, as a failed connection test is)."""

        def failed(exc: BaseException) -> None:
            self.operation = None
            self._set_busy(False)
            self.say(f"{what} failed: {exc}")
            if not (quiet and isinstance(exc, UserError)):
                show_error(self, exc)

        def done(result: object) -> None:
            self.operation = None
            self._set_busy(False)
            success(result)

        self.say(doing)
        self._set_busy(True)
        self.operation = Operation(self, op=op, success=done, failure=failed)
        return self.operation.run_in_background()

    def start_test(self) -> Operation:
        """Reachable, really a helper, and the token accepted? Shown under the buttons."""
        url, token, ca_text = self.url.text(), self.token.text().strip(), self.ca_cert.text()

        def op(_: OperationContext) -> str:
            key = normalize_url(url)
            certificate = Path(ca_text.strip()) if ca_text.strip() else None
            if certificate is None:
                certificate = ca_cert_for(Settings.load(), key)
            return check_connection(key, token or load_token(key), certificate).describe()

        return self._run(
            op, lambda report: self.say(f"Connected: {report}"), "Connection test",
            "Testing the connection…", quiet=True,
        )  # fmt: skip

    def start_save(self) -> Operation:
        """Keep the token in the keyring, and the address and opt-in in the settings."""
        url, token, ca_text = self.url.text(), self.token.text().strip(), self.ca_cert.text()

        def op(_: OperationContext) -> HelperChoice:
            where = paths()
            return save_helper(where, Settings.load(where), url, token, ca_text.strip())

        def saved(choice: object) -> None:
            self.agreed = False
            self.refresh()
            self.say(f"Saved: training can now use the GPU helper at {choice.url}.")
            if self.changed is not None:
                self.changed()

        return self._run(op, saved, "Saving", "Saving…")

    def start_turn_off(self) -> Operation:
        """Forget the token (keyring), the address, the opt-in and the certificate copy."""

        def op(_: OperationContext) -> str:
            where = paths()
            settings = Settings.load(where)
            note = forget_remembered_token(where)
            if helper_choice(settings) is not None:
                forget_helper(where, settings)
            return note

        def done(note: object) -> None:
            self.agreed = False
            self.url.clear()
            self.token.clear()
            self.token.setPlaceholderText(TOKEN_PLACEHOLDER)
            self.ca_cert.clear()
            self.refresh()
            self.say(f"Turned off. {note}".strip() if note else FORGOTTEN)
            if self.changed is not None:
                self.changed()

        return self._run(op, done, "Turning off", "Turning off…")


def save_helper(
    where: Paths, settings: Settings, url: str, token: str, ca_text: str
) -> HelperChoice:
    """What *Save* does (no Qt): the token to the keyring, then the address and opt-in.

    Without a typed token, one must already be kept for this address. Moving to another address
    forgets the previous helper's token; an emptied certificate field stops trusting the copy,
    and the copy still named in the field stays trusted (at a new address too).
    """
    key = normalize_url(url)
    if token:
        store_token(key, token)
    else:
        try:
            load_token(key)
        except UserError as exc:
            if str(exc) == NO_KEYRING:
                raise
            raise UserError(
                f"type the helper's token before saving: none is kept for {key} yet"
            ) from exc
    previous = helper_choice(settings)
    certificate = Path(ca_text) if ca_text else None
    with tempfile.TemporaryDirectory() as staging:
        if previous is not None:
            kept = previous.ca_cert
            if certificate is not None and kept is not None and _same_file(certificate, kept):
                # remember_helper would copy the kept copy onto itself: give it a copy of it
                certificate = Path(staging) / kept.name
                try:
                    shutil.copyfile(kept, certificate)
                except OSError as exc:
                    raise UserError(
                        f"{kept}: cannot read the certificate ({exc.strerror})"
                    ) from exc
            settings.extra.pop(SETTINGS_KEY, None)  # nothing of the old choice carries over unasked
        choice = remember_helper(where, settings, key, enabled=True, ca_cert=certificate)
    if previous is not None:
        if previous.ca_cert is not None and choice.ca_cert is None:
            previous.ca_cert.unlink(missing_ok=True)
        if previous.url != key:
            with suppress(UserError):  # the old entry stays; the new helper works all the same
                forget_token(previous.url)
    return choice


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except OSError:
        return False
