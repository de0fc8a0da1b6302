"""Where the GPU helper is and how to prove who we are to it: its URL, CA certificate and token.

The URL, the opt-in flag and the path of a CA certificate to trust are ordinary settings
(`Settings.extra["helper"]`). The bearer token is a secret, so it lives in the operating system's
keyring (service `gravity-desktop-helper`, one entry per helper URL) and never in a settings file
or a log. `GRAVITY_HELPER_TOKEN` overrides the keyring for scripts and tests that set it on purpose.
The token is only ever sent over TLS, or over plain HTTP to this same computer (loopback).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from gravity_desktop.errors import UserError

if TYPE_CHECKING:  # the GPU helper imports is_loopback from here without the desktop's settings
    from gravity_desktop.config import Paths, Settings

KEYRING_SERVICE = "gravity-desktop-helper"
TOKEN_ENV = "GRAVITY_HELPER_TOKEN"
SETTINGS_KEY = "helper"
T = TypeVar("T")
NO_KEYRING = (
    "no keyring is available to keep the helper's token: start your desktop's keyring (GNOME"
    " Keyring, KWallet, macOS Keychain, Windows Credential Manager), or install a file-based one"
    " with `pip install keyrings.alt`, or set GRAVITY_HELPER_TOKEN for this session"
)


WHAT_IS_SENT = (
    "Training on a GPU helper sends it, for each training run: the training pairs (each pair's"
    " prompt with the book's title, author and synopsis, and the two descriptions, including the"
    " rewrites you typed as feedback), the training settings (method, LoRA rank, epochs, ...),"
    " the served base model and, for a model imported with its Hugging Face weights, those weights"
    " (only their sha256 once the helper has them). Not sent: your answers, profile, reading"
    " history, the held-out pairs and any metadata of the pairs. The helper sends"
    " back the trained adapter, which is checked and activated on this computer, and deletes the"
    " job's data when the job ends (its operator can set a retention time)."
)


def is_loopback(host: str) -> bool:
    """True for this computer's own addresses, where plain HTTP never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_url(url: str) -> str:
    """The helper's base URL in one spelling (the keyring key); refuses plain HTTP off this host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"{url!r} is not a helper URL (expected https://HOST:PORT)")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UserError(f"{url!r}: a helper URL has no user name, query or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UserError(
            f"{url}: plain http would send the token and your pairs unencrypted; use https"
            " (http is allowed only for a helper on this computer, 127.0.0.1)"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise UserError(f"{url!r}: {exc}") from exc
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _keyring_call(action: str, call: Callable[[ModuleType], T]) -> T:
    """Run `call(keyring)`, turning a missing or refusing keyring into a readable error."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        return call(keyring)
    except NoKeyringError as exc:
        raise UserError(NO_KEYRING) from exc
    except KeyringError as exc:
        raise UserError(f"the keyring refused to {action} the helper's token: {exc}") from exc


def store_token(url: str, token: str) -> None:
    token = token.strip()
    if not token:
        raise UserError("the token is empty")
    key = normalize_url(url)
    _keyring_call("store", lambda k: k.set_password(KEYRING_SERVICE, key, token))


def load_token(url: str) -> str:
    """The token for `url`: GRAVITY_HELPER_TOKEN if set, else the keyring's entry."""
    override = os.environ.get(TOKEN_ENV, "").strip()
    if override:
        return override
    key = normalize_url(url)
    token = _keyring_call("read", lambda k: k.get_password(KEYRING_SERVICE, key))
    if not token:
        raise UserError(f"no token for the helper at {key}: run `gravity helper login {key}`")
    return token


def forget_token(url: str) -> bool:
    """Remove the stored token; False when there was none."""
    key = normalize_url(url)

    def delete(keyring: ModuleType) -> bool:
        from keyring.errors import PasswordDeleteError

        try:
            keyring.delete_password(KEYRING_SERVICE, key)
        except PasswordDeleteError:
            return False
        return True

    return _keyring_call("delete", delete)


@dataclass(frozen=True)
class HelperChoice:
    """The helper the reader opted into (set after the consent screen, or by `helper login`)."""

    url: str
    enabled: bool
    ca_cert: Path | None  # a certificate to trust for a self-signed helper; None: system CAs

    def as_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "enabled": self.enabled,
            "ca_cert": str(self.ca_cert) if self.ca_cert else None,
        }


def helper_choice(settings: Settings) -> HelperChoice | None:
    raw = settings.extra.get(SETTINGS_KEY)
    if not isinstance(raw, dict) or not isinstance(raw.get("url"), str):
        return None
    ca_cert = raw.get("ca_cert")
    return HelperChoice(
        url=raw["url"],
        enabled=raw.get("enabled") is True,
        ca_cert=Path(ca_cert) if isinstance(ca_cert, str) and ca_cert else None,
    )


def remember_helper(
    where: Paths, settings: Settings, url: str, *, enabled: bool, ca_cert: Path | None = None
) -> HelperChoice:
    """Save the helper's URL and opt-in; a CA certificate given is copied into the data folder."""
    url = normalize_url(url)
    kept = None
    if ca_cert is not None:
        kept = where.root / "helper-ca.pem"
        try:
            shutil.copyfile(ca_cert, kept)
        except OSError as exc:
            raise UserError(f"{ca_cert}: cannot read the certificate ({exc.strerror})") from exc
    else:
        previous = helper_choice(settings)
        if previous is not None and previous.url == url:
            kept = previous.ca_cert
    choice = HelperChoice(url, enabled, kept)
    settings.extra[SETTINGS_KEY] = choice.as_json()
    settings.save(where)
    return choice


def forget_helper(where: Paths, settings: Settings) -> None:
    """Opt out: drop the helper's settings and its copied CA certificate."""
    settings.extra.pop(SETTINGS_KEY, None)
    settings.save(where)
    (where.root / "helper-ca.pem").unlink(missing_ok=True)


def ca_cert_for(settings: Settings, url: str) -> Path | None:
    """The CA certificate remembered for this helper URL, if any."""
    choice = helper_choice(settings)
    if choice is not None and choice.url == normalize_url(url):
        return choice.ca_cert
    return None


def forget_remembered_token(where: Paths) -> str:
    """For "Delete my data": drop the remembered helper's token, which lives in the keyring.

    Returns "" when done (or when there was nothing to forget), otherwise a sentence (with a
    trailing space) saying what is left behind. Without any keyring there is nothing to forget.
    """
    from gravity_desktop.config import Settings

    choice = helper_choice(Settings.load(where))
    if choice is None:
        return ""
    try:
        forget_token(choice.url)
    except UserError as exc:
        if str(exc) == NO_KEYRING:
            return ""
        return (
            f"The GPU helper's token may still be in your system keyring ({exc}); remove the"
            f" entry for {choice.url} of the service {KEYRING_SERVICE} there. "
        )
    return ""
