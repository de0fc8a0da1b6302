"""`gravity-gpu-helper serve`: start the helper, refusing set-ups that would leak the token or data.

Without TLS the helper only binds to a loopback address (reach it through an SSH tunnel); on any
other address it needs --tls-cert and --tls-key. The token comes from --token-file, or is made once
and kept (mode 0600) in the data folder; it is never printed.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

import click

from gravity_desktop import __version__
from gravity_desktop.errors import UserError
from gravity_desktop.helper.options import DEVICES, HelperOptions
from gravity_desktop.training.helper_access import is_loopback

MIN_TOKEN_LENGTH = 16


class GpuCount(click.ParamType):
    """`--gpus`: "all" or a whole number of at least 1."""

    name = "all|N"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | str:
        text = str(value).strip().lower()
        if text == "all":
            return "all"
        if text.isdigit() and int(text) >= 1:
            return int(text)
        self.fail(f"{value!r} is neither 'all' nor a whole number >= 1", param, ctx)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "gravity-gpu-helper"


def read_token(token_file: Path | None, data_dir: Path) -> tuple[str, Path]:
    """The token and the file it is in; without --token-file one is made on first start."""
    if token_file is None:
        token_file = data_dir / "token"
        if not token_file.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{token_file}: cannot read the token ({exc})") from exc
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise UserError(
            f"{token_file}: the token must be one line of at least {MIN_TOKEN_LENGTH} characters"
            " without spaces (for example `python -c 'import secrets;"
            " print(secrets.token_urlsafe(32))'`)"
        )
    return token, token_file


def check_tls(host: str, cert: Path | None, key: Path | None) -> None:
    if (cert is None) != (key is None):
        raise UserError("give both --tls-cert and --tls-key, or neither")
    if cert is None and not is_loopback(host):
        raise UserError(
            f"refusing to serve on {host} without TLS: the token and the reader's pairs would"
            " cross the network unencrypted. Give --tls-cert and --tls-key (docs/gpu-helper.md"
            " shows how to make a self-signed pair), or bind to 127.0.0.1 and reach the helper"
            " through an SSH tunnel"
        )
    for path in (cert, key):
        if path is not None and not path.is_file():
            raise UserError(f"{path}: file not found")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gravity-gpu-helper")
def cli() -> None:
    """The opt-in GPU helper of GRAVITY Desktop: trains LoRA adapters for the app."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--tls-cert", type=click.Path(path_type=Path), help="PEM certificate (chain).")
@click.option("--tls-key", type=click.Path(path_type=Path), help="PEM private key.")
@click.option("--token-file", type=click.Path(path_type=Path), help="File holding the token.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Jobs, cached bases, token.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option(
    "--gpus",
    type=GpuCount(),
    default="all",
    show_default=True,
    help="GPUs each job trains on, data-parallel (one process per GPU). On the CPU: processes.",
)
@click.option("--retention-seconds", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--claim-seconds", type=click.FloatRange(1), default=3600.0, show_default=True)
@click.option("--max-upload-mb", type=click.FloatRange(0.001), default=8192.0, show_default=True)
@click.option("--max-pairs-mb", type=click.FloatRange(0.001), default=64.0, show_default=True)
def serve(
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    token_file: Path | None,
    data_dir: Path | None,
    device: str,
    gpus: int | str,
    retention_seconds: float,
    claim_seconds: float,
    max_upload_mb: float,
    max_pairs_mb: float,
) -> None:
    """Serve training jobs until stopped (Ctrl-C stops running jobs and deletes their data)."""
    import uvicorn

    from gravity_desktop.helper.app import create_app

    try:
        check_tls(host, tls_cert, tls_key)
        data_dir = (data_dir or default_data_dir()).expanduser().resolve()
        token, token_path = read_token(token_file, data_dir)
    except UserError as exc:
        click.echo(f"gravity-gpu-helper: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    # Uploads are spooled to disk while they stream in: keep them beside the jobs, not in /tmp.
    incoming = data_dir / "incoming"
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir(parents=True)
    tempfile.tempdir = str(incoming)
    options = HelperOptions(
        data_dir=data_dir,
        token=token,
        device=device,
        gpus=gpus,
        retention_seconds=retention_seconds,
        claim_seconds=claim_seconds,
        max_upload_bytes=int(max_upload_mb * 1e6),
        max_pairs_bytes=int(max_pairs_mb * 1e6),
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s:     %(message)s")
    logging.getLogger("gravity_desktop").setLevel(logging.INFO)  # job starts and ends
    scheme = "https" if tls_cert else "http"
    click.echo(
        f"gravity-gpu-helper {__version__} on {scheme}://{host}:{port} (device {device},"
        f" GPUs per job: {gpus}, data in {data_dir}, job data kept {retention_seconds:g} s after a"
        " job ends);"
        f" token in {token_path}",
        err=True,
    )
    uvicorn.run(
        create_app(options),
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        access_log=False,
        log_level="info",
    )


main = cli

if __name__ == "__main__":
    main()
