"""A real GPU helper for the tests: its own process on a free loopback port, optionally over TLS.

The helper runs in a new session (process group), so a test can kill it together with its worker,
the way a crashed or unplugged GPU box disappears. `MemoryKeyring` stands in for the system
keyring, which these machines do not have.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

TOKEN = "test-token-" + "x" * 24


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gravity-gpu-helper test")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "helper-cert.pem", folder / "helper-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class RunningHelper:
    url: str
    process: subprocess.Popen
    data_dir: Path
    token_file: Path
    ca_cert: Path | None
    log: Path

    @property
    def jobs(self) -> list[Path]:
        return list((self.data_dir / "jobs").iterdir())

    def kill(self) -> None:
        """Gone at once, worker included: a crashed or unplugged helper."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()


def start_helper(folder: Path, *options: str, tls: bool = False) -> RunningHelper:
    """Start `gravity-gpu-helper serve` in `folder` and wait until /health answers."""
    folder.mkdir(parents=True, exist_ok=True)
    token_file = folder / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    port = free_port()
    command = [
        sys.executable, "-m", "gravity_desktop.helper.cli", "serve", "--port", str(port),
        "--token-file", str(token_file), "--data-dir", str(folder / "data"), *options,
    ]  # fmt: skip
    ca_cert = None
    verify: bool | ssl.SSLContext = False
    if tls:
        ca_cert, key = self_signed_certificate(folder)
        command += ["--tls-cert", str(ca_cert), "--tls-key", str(key)]
        verify = ssl.create_default_context(cafile=str(ca_cert))
    log = folder / "helper.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    helper = RunningHelper(url, process, folder / "data", token_file, ca_cert, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the helper exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", verify=verify, timeout=2).status_code == 200:
                return helper
        except httpx.TransportError:
            time.sleep(0.2)
    helper.kill()
    raise RuntimeError(f"the helper did not start: {log.read_text()}")


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps passwords in a dict, for the life of one test."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")
