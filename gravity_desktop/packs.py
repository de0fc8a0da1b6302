"""The training pack: how worker processes run when the app is an installed bundle.

From a source checkout a worker is `python -m MODULE` with the project's own Python, and the
training extra (`make install-train`) provides torch, transformers, TRL and PEFT. An installed app
(a PyInstaller bundle) has no Python to run and does not carry the training stack (about 1 GB
more). Personalization there uses the *training pack*: a second PyInstaller bundle, built from the
same source with the training extra, whose one executable runs the worker modules
(`gravity-worker -m MODULE ARGS`). The reader installs it once, from the downloaded archive, with
`gravity pack install FILE`; it lands in the data dir under `packs/training/`.

Recommendations, descriptions and feedback never need the pack. See docs/installers.md.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import platform
import runpy
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gravity_desktop import __version__
from gravity_desktop.config import Paths, install_root, paths
from gravity_desktop.errors import UserError

PACK_NAME = "gravity-training-pack"
MANIFEST = "pack.json"
# Written into a bundle by the installer specs: {"build": source_digest()} of the built source.
BUILD_FILE = "gravity-build.json"
# Worker modules that import the training stack; everything else runs inside the app itself.
TRAINING_MODULES = frozenset(
    {
        "gravity_desktop.training.dpo_worker",
        "gravity_desktop.recommend.embed_worker",
        "gravity_desktop.evaluation.embedding_worker",
    }
)
# Exit status of a worker that could not start because the pack is missing or unusable.
EXIT_NO_PACK = 3
# Popen flags for a worker: on Windows the windowed app starting the pack's console executable
# would otherwise open a console window beside it. 0 (no flags) elsewhere.
NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)


def frozen() -> bool:
    """True inside a PyInstaller bundle (the installed app or the training pack)."""
    return bool(getattr(sys, "frozen", False))


def platform_tag() -> str:
    """The platform a pack is built for, e.g. `linux-x86_64`, `windows-amd64`, `macos-arm64`."""
    system = {"darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    return f"{system}-{platform.machine().lower()}"


def archive_name(version: str = __version__) -> str:
    suffix = "zip" if sys.platform == "win32" else "tar.gz"
    return f"{PACK_NAME}-{version}-{platform_tag()}.{suffix}"


def source_digest(root: Path | None = None) -> str:
    """A short digest of the package's source, which the app and its pack must share.

    Version numbers alone do not pin it (development builds share one), and a worker from other
    source could migrate the reader's database to a schema the app cannot open. `root` is a
    source tree (the installer scripts pass the repository); by default, this package's own files.
    """
    package = root / "gravity_desktop" if root else Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for file in sorted(package.rglob("*.py")):
        digest.update(file.relative_to(package).as_posix().encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def app_build() -> str | None:
    """The build this frozen app was made from (None from a checkout, or if not recorded)."""
    if not frozen():
        return None
    try:
        raw = json.loads((install_root() / BUILD_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    build = raw.get("build") if isinstance(raw, dict) else None
    return build if isinstance(build, str) else None


def write_build_file(folder: Path, root: Path) -> Path:
    """Record the source digest of `root` in `folder`/BUILD_FILE (the installer specs call it)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / BUILD_FILE
    record = {"build": source_digest(root), "version": __version__}
    target.write_text(json.dumps(record), encoding="utf-8")
    return target


def pack_dir(where: Paths | None = None) -> Path:
    return (where or paths()).root / "packs" / "training"


@dataclass(frozen=True)
class Pack:
    root: Path
    version: str
    platform: str
    executable: Path

    def as_json(self) -> dict[str, str]:
        return {
            "root": str(self.root),
            "version": self.version,
            "platform": self.platform,
            "executable": str(self.executable),
        }


def read_pack(root: Path) -> Pack:
    """The pack unpacked at `root`; a UserError says what is wrong with it."""
    manifest = root / MANIFEST
    try:
        raw = json.loads(manifest.read_text(encoding="utf-8-sig"))  # BOM from PowerShell
    except FileNotFoundError as exc:
        raise UserError(f"{root}: not a training pack (no {MANIFEST})") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{manifest}: cannot read the pack manifest ({exc})") from exc
    if not isinstance(raw, dict) or raw.get("name") != PACK_NAME:
        raise UserError(f"{manifest}: not a {PACK_NAME} manifest")
    for key in ("version", "platform", "executable"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise UserError(f"{manifest}: field '{key}' is missing")
    if raw["version"] != __version__:
        raise UserError(
            f"{root}: the training pack is for GRAVITY Desktop {raw['version']}, this is"
            f" {__version__}; install {archive_name()}"
        )
    if raw["platform"] != platform_tag():
        raise UserError(
            f"{root}: the training pack is built for {raw['platform']}, this computer is"
            f" {platform_tag()}; install {archive_name()}"
        )
    build = app_build()
    if build is not None and raw.get("build") != build:
        raise UserError(
            f"{root}: the training pack was built from other source than this app (build"
            f" {raw.get('build') or 'unknown'}, the app is {build}); install the"
            f" {archive_name()} published with this app"
        )
    executable = (root / raw["executable"]).resolve()
    if not executable.is_relative_to(root.resolve()) or not executable.is_file():
        raise UserError(f"{manifest}: the worker {raw['executable']} is missing from the pack")
    return Pack(root, raw["version"], raw["platform"], executable)


def installed_pack(where: Paths | None = None) -> Pack | None:
    """The usable pack in the data dir, or None (missing, or for another version)."""
    root = pack_dir(where)
    if not (root / MANIFEST).is_file():
        return None
    try:
        return read_pack(root)
    except UserError:
        return None


def training_stack_here() -> bool:
    """Whether this process could import the training stack itself."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers"))


@dataclass(frozen=True)
class TrainingStack:
    """Where personalization's workers run: the decision `worker_command` acts on, as a state
    the Settings page can show."""

    source: str  # "checkout", "app" (a bundle with the stack inside), "pack" or "missing"
    available: bool
    pack: Pack | None = None

    @property
    def pack_used(self) -> bool:
        """Whether a training pack is what the workers run in (so installing one matters)."""
        return self.source in ("pack", "missing")


def training_stack(where: Paths | None = None) -> TrainingStack:
    """From a checkout workers use this Python, torch or not (`make install-train` adds it); an
    installed app uses its pack, unless the bundle happens to carry the stack itself."""
    if not frozen():
        return TrainingStack("checkout", training_stack_here())
    if training_stack_here():
        return TrainingStack("app", True)
    pack = installed_pack(where)
    return TrainingStack("pack", True, pack) if pack else TrainingStack("missing", False)


def unusable_pack_reason(where: Paths | None = None) -> str | None:
    """Why the pack in the data dir cannot be used (another version or build, damaged), if one is
    there; None when it is usable or absent."""
    root = pack_dir(where)
    if not (root / MANIFEST).is_file():
        return None
    try:
        read_pack(root)
    except UserError as exc:
        return str(exc)
    return None


def missing_pack_message(where: Paths | None = None) -> str:
    root = pack_dir(where)
    reason = unusable_pack_reason(where)
    problem = f" The pack found there cannot be used: {reason}." if reason else ""
    gravity = "gravity.exe" if sys.platform == "win32" else "gravity"
    return (
        "Personalization (training and book embeddings) needs the training pack, which the"
        " installer leaves out to stay small. Download"
        f" {archive_name()} from the page you got GRAVITY Desktop from, then run"
        f" `{gravity} pack install <that file>` (the `{gravity}` command sits beside the app's"
        f" executable); it unpacks into {root}." + problem + " Recommendations, descriptions and"
        " feedback work without it."
    )


def worker_command(module: str, where: Paths | None = None) -> list[str]:
    """The command that runs a worker module, from a checkout or from an installed app.

    Every worker is started through this: in a bundle `sys.executable` is the app itself, which
    has no torch, so training modules must name the pack's executable (or fail with its download
    instructions when it is missing).
    """
    if module not in TRAINING_MODULES:
        return [sys.executable, "-m", module]
    stack = training_stack(where)
    if stack.source == "missing":
        raise UserError(missing_pack_message(where))
    if stack.pack is None:
        return [sys.executable, "-m", module]
    return [str(stack.pack.executable), "-m", module]


def can_exec() -> bool:
    """Whether this process can be replaced by another program (POSIX `exec`)."""
    return os.name == "posix"


def run_module(module: str, args: list[str]) -> int:
    """`BUNDLE -m MODULE ARGS`: what a frozen executable does when asked to run a worker.

    Code that starts workers as `sys.executable -m MODULE` then works unchanged in the bundle:
    modules that need the training stack are handed to the installed pack (the process is
    replaced on POSIX, so signals reach the worker directly); without a pack the worker reports
    one JSON error line naming how to get it. Other modules run in this process.
    """
    if module in TRAINING_MODULES and not training_stack_here():
        pack = installed_pack()
        if pack is None:
            message = missing_pack_message()
            print(json.dumps({"event": "error", "message": message}), flush=True)
            print(message, file=sys.stderr, flush=True)
            return EXIT_NO_PACK
        command = [str(pack.executable), "-m", module, *args]
        if can_exec():
            sys.stdout.flush()
            os.execv(command[0], command)
        # Windows has no exec: relay through a child that shares our pipes and opens no console.
        streams = {name: getattr(sys, name) for name in ("stdin", "stdout", "stderr")}
        inherited = {name: s for name, s in streams.items() if s is not None}
        return subprocess.call(command, creationflags=NO_WINDOW, **inherited)
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    return 0


def install_pack(
    archive: Path,
    where: Paths | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Pack:
    """Unpack a training pack archive (.tar.gz or .zip) into the data dir, replacing the old one.

    The archive holds `pack.json` and the worker bundle at its top level. It is unpacked beside
    the target, checked, and only then moved into place; a bad archive leaves the old pack as it
    was. `progress(done, total)` counts compressed bytes read, since unpacking half a gigabyte
    takes a while; an exception raised from it stops the unpacking and leaves the old pack too.
    """
    if not archive.is_file():
        raise UserError(f"{archive}: no such file")
    target = pack_dir(where)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=target.parent))
    try:
        _extract(archive, staging, progress)
        root = staging
        entries = [p for p in staging.iterdir()]
        if not (staging / MANIFEST).is_file() and len(entries) == 1 and entries[0].is_dir():
            root = entries[0]  # an archive with one top-level folder
        read_pack(root)
        old = target.with_name(".old-training")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        root.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return read_pack(target)


def remove_pack(where: Paths | None = None) -> bool:
    target = pack_dir(where)
    if not target.exists():
        return False
    shutil.rmtree(target)
    return True


def _extract(archive: Path, into: Path, progress: Callable[[int, int], None] | None = None) -> None:
    """Unpack in one pass, checking each entry before it is written (`install_pack` deletes the
    whole staging folder on any refusal, so nothing refused survives)."""
    name = archive.name.lower()
    report = progress or (lambda done, total: None)
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zipped:
                members = zipped.infolist()
                total = sum(member.compress_size for member in members)

                def checked_zip() -> Iterator[zipfile.ZipInfo]:
                    done = 0
                    for member in members:
                        _check_member(archive, member.filename, into)
                        yield member
                        done += member.compress_size
                        report(done, total)

                zipped.extractall(into, members=checked_zip())
                for member in members:  # zip keeps the executable bit in external_attr
                    mode = (member.external_attr >> 16) & 0o777
                    if mode and not member.is_dir():
                        (into / member.filename).chmod(mode)
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            total = archive.stat().st_size
            with archive.open("rb") as raw, tarfile.open(fileobj=raw, mode="r:*") as tarred:

                def checked_tar() -> Iterator[tarfile.TarInfo]:
                    for member in tarred:
                        _check_member(archive, member.name, into)
                        yield member
                        report(min(raw.tell(), total), total)

                if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
                    tarred.extractall(into, members=checked_tar(), filter="data")
                else:
                    tarred.extractall(into, members=checked_tar())
            report(total, total)
        else:
            raise UserError(f"{archive}: a training pack is a .tar.gz or .zip archive")
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise UserError(f"{archive}: damaged archive ({exc})") from exc
    except OSError as exc:
        raise UserError(f"{archive}: cannot unpack into {into} ({exc.strerror})") from exc


def _check_member(archive: Path, member: str, into: Path) -> None:
    resolved = (into / member).resolve()
    if not resolved.is_relative_to(into.resolve()):
        raise UserError(f"{archive}: refuses the entry {member!r} (outside the pack folder)")
