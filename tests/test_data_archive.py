from __future__ import annotations

import hashlib
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from gravity_desktop.app_context import opened
from gravity_desktop.cli import cli
from gravity_desktop.config import Paths, paths
from gravity_desktop.data_archive import delete_data, export_data
from gravity_desktop.errors import UserError
from tests.reader_data import ADAPTER, fill_reader_data

MEMBERS = {
    "manifest.json",
    "gravity.sqlite3",
    "settings.json",
    "adapters/20260101-000000-gravity.gguf",
}


def test_export_holds_the_readers_data_and_a_manifest(tmp_path: Path) -> None:
    data = fill_reader_data()
    target = tmp_path / "out" / "my-data.zip"
    target.parent.mkdir()
    with opened() as ctx:
        # A write the WAL still holds: a raw copy of the main database file would miss it.
        ctx.conn.execute("PRAGMA wal_autocheckpoint=0")
        ctx.conn.execute("INSERT INTO meta (key, value) VALUES ('late', 'write')")
        assert (ctx.paths.root / "gravity.sqlite3-wal").stat().st_size > 0
        report = export_data(ctx.paths, ctx.conn, target)

    assert report.path == target and report.counts == data.counts
    assert sorted(target.parent.iterdir()) == [target]  # no temporary leftovers
    with zipfile.ZipFile(target) as archive:
        assert set(archive.namelist()) == MEMBERS
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read("adapters/20260101-000000-gravity.gguf") == ADAPTER
        assert json.loads(archive.read("settings.json"))["serve_model"].startswith("smollm2")
        for name, entry in manifest["files"].items():
            content = archive.read(name)
            assert entry == {"size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
        archive.extract("gravity.sqlite3", tmp_path / "unpacked")
    assert manifest["counts"] == data.counts
    assert manifest["app_version"] and manifest["created_at"]
    assert {"models/", "trainable-base/"} <= set(manifest["not_included"])

    copy = sqlite3.connect(tmp_path / "unpacked" / "gravity.sqlite3")
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert copy.execute("SELECT value FROM meta WHERE key = 'late'").fetchone()[0] == "write"
    assert copy.execute("SELECT rewrite FROM feedback").fetchone()[0] == "Dune, warmly and briefly."
    assert copy.execute("SELECT status FROM reading").fetchone()[0] == "liked"
    copy.close()


def test_a_failed_export_leaves_no_archive_and_keeps_an_older_one(tmp_path: Path) -> None:
    fill_reader_data()
    target = tmp_path / "my-data.zip"
    target.write_bytes(b"the previous archive")

    def stop(done: int, total: int, name: str) -> None:
        assert 0 < done <= total
        raise KeyboardInterrupt  # what a cancel raised from the progress callback looks like

    with opened() as ctx, pytest.raises(KeyboardInterrupt):
        export_data(ctx.paths, ctx.conn, target, progress=stop)
    assert target.read_bytes() == b"the previous archive"
    assert sorted(tmp_path.iterdir()) == [tmp_path / "gravity-home", target]


def test_export_refuses_a_target_inside_the_data_folder(tmp_path: Path) -> None:
    with opened() as ctx, pytest.raises(UserError, match="outside the data folder"):
        export_data(ctx.paths, ctx.conn, ctx.paths.root / "backup.zip")
    with opened() as ctx, pytest.raises(UserError, match="no such folder"):
        export_data(ctx.paths, ctx.conn, tmp_path / "missing" / "backup.zip")


def test_delete_leaves_nothing_in_the_data_folder() -> None:
    data = fill_reader_data()
    removed = delete_data(paths())
    assert {e.name for e in removed} >= {"gravity.sqlite3", "settings.json", "adapters",
                                         "models", "trainable-base"}  # fmt: skip
    assert data.root.is_dir() and list(data.root.iterdir()) == []
    assert delete_data(Paths(data.root)) == []


def test_delete_refuses_a_folder_that_is_not_ours(tmp_path: Path) -> None:
    home = tmp_path / "someone"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    (home / "settings.json").write_text("{}")
    with pytest.raises(UserError, match="does not look like a GRAVITY Desktop data folder"):
        delete_data(Paths(home))
    assert (home / "thesis.tex").read_text() == "years of work"
    assert (home / "settings.json").exists()


def test_delete_accepts_unknown_files_beside_a_gravity_database() -> None:
    data = fill_reader_data()
    (data.root / "helper-notes.txt").write_text("made by a newer version")
    delete_data(paths())
    assert list(data.root.iterdir()) == []


def test_cli_exports_and_deletes_only_when_confirmed(tmp_path: Path) -> None:
    data = fill_reader_data()
    runner = CliRunner()
    exported = runner.invoke(cli, ["data", "export", str(tmp_path / "backup.zip")])
    assert exported.exit_code == 0, exported.output
    assert "profile versions 1, readings 1" in exported.output
    assert "model weights are not included" in exported.output
    with zipfile.ZipFile(tmp_path / "backup.zip") as archive:
        assert set(archive.namelist()) == MEMBERS

    declined = runner.invoke(cli, ["data", "delete"], input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert "adapters/ (trained adapters" in declined.output
    assert (data.root / "gravity.sqlite3").exists()

    deleted = runner.invoke(cli, ["data", "delete", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert "removed gravity.sqlite3 (the database" in deleted.output
    assert "removed models/ (downloaded and imported models" in deleted.output
    assert list(data.root.iterdir()) == []
    again = runner.invoke(cli, ["data", "delete", "--yes"])
    assert again.exit_code == 0 and "nothing to delete" in again.output
    assert list(data.root.iterdir()) == []  # asking did not recreate the folders


def test_cli_export_error_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["data", "export", str(tmp_path / "nowhere" / "x.zip")])
    assert result.exit_code == 2
    assert result.output.startswith("gravity: error: ") and "no such folder" in result.output


def test_cli_delete_also_forgets_the_helper_token(memory_keyring) -> None:
    from gravity_desktop.config import Settings
    from gravity_desktop.training.helper_access import load_token, remember_helper, store_token

    fill_reader_data()
    url = "https://gpu-box.example:8765"
    store_token(url, "a-long-enough-secret-token")
    remember_helper(paths(), Settings.load(paths()), url, enabled=True)
    deleted = CliRunner().invoke(cli, ["data", "delete", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    with pytest.raises(UserError):
        load_token(url)
