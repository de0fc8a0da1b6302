from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gravity_desktop.app_context import opened
from gravity_desktop.catalog.importers import detect_format, import_file
from gravity_desktop.cli import cli
from gravity_desktop.errors import UserError
from gravity_desktop.store import books as store
from tests.calibre_fixture import build_calibre_library

DATA = Path(__file__).parent / "data"
GOODREADS = DATA / "goodreads_library_export.csv"
STORYGRAPH = DATA / "storygraph_export.csv"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_goodreads_import_maps_ratings_shelves_and_dates() -> None:
    with opened() as ctx:
        before = len(store.all_books(ctx.conn))
        report = import_file(ctx.conn, GOODREADS)
        history = store.reading_history(ctx.conn)
        assert report.format == "goodreads"
        assert (report.imported, report.updated, report.unchanged) == (5, 0, 0)
        assert [(p.line, p.reason) for p in report.skipped] == [
            (7, "Title is empty"),
            (8, "My Rating 'seven' is not a number"),
            (9, "Date Read 'last tuesday' is not a date (expected YYYY/MM/DD)"),
        ]
        # matched to the bundled catalog by ISBN / title + author (series info and the
        # Portuguese original title notwithstanding)
        assert history["dune-herbert"].status == "liked"
        assert history["dune-herbert"].read_at == "2021-03-04"
        assert "favorites" in history["dune-herbert"].shelves
        assert history["great-gatsby-fitzgerald"].status == "disliked"
        assert history["memory-police-ogawa"].status == "to-read"
        assert history["bras-cubas-assis"].status == "reading"
        # the unknown book joined the library
        assert len(store.all_books(ctx.conn)) == before + 1
        new = store.get_book(ctx.conn, "a-field-guide-to-imaginary-lighthouses-maren-quill")
        assert new is not None and new.source == "import:goodreads" and new.year == 2021
        assert history[new.id].status == "liked"


def test_reimporting_adds_nothing_twice() -> None:
    with opened() as ctx:
        import_file(ctx.conn, GOODREADS)
        count = len(store.all_books(ctx.conn))
        history = store.reading_history(ctx.conn)
        again = import_file(ctx.conn, GOODREADS)
        assert (again.imported, again.updated, again.unchanged) == (0, 0, 5)
        assert len(store.all_books(ctx.conn)) == count
        assert store.reading_history(ctx.conn) == history


def test_changed_rating_on_reimport_counts_as_updated(tmp_path: Path) -> None:
    changed = tmp_path / "export.csv"
    changed.write_text(
        GOODREADS.read_text()
        .replace(",Scribner,", ",Scribner,", 1)
        .replace(
            '4671,The Great Gatsby,F. Scott Fitzgerald,"Fitzgerald, F. Scott",,"=""""","=""""",2,',
            '4671,The Great Gatsby,F. Scott Fitzgerald,"Fitzgerald, F. Scott",,"=""""","=""""",5,',
        )
    )
    with opened() as ctx:
        import_file(ctx.conn, GOODREADS)
        report = import_file(ctx.conn, changed)
        assert (report.imported, report.updated, report.unchanged) == (0, 1, 4)
        assert store.get_reading(ctx.conn, "great-gatsby-fitzgerald").status == "liked"


def test_storygraph_import() -> None:
    with opened() as ctx:
        report = import_file(ctx.conn, STORYGRAPH)
        history = store.reading_history(ctx.conn)
    assert report.format == "storygraph"
    assert report.imported == 3
    assert [str(p) for p in report.skipped] == ["line 5: Star Rating 9 is outside 0-5"]
    assert history["kitchen-yoshimoto"].status == "liked"
    assert history["kitchen-yoshimoto"].rating == 4.5
    assert history["things-fall-apart-achebe"].status == "disliked"  # did not finish
    assert history["the-quiet-orchard-lena-marsh"].status == "to-read"


def test_calibre_import_is_read_only(tmp_path: Path) -> None:
    library = tmp_path / "Calibre Library"
    db = build_calibre_library(library)
    before = db.read_bytes()
    with opened() as ctx:
        assert detect_format(library) == "calibre"
        report = import_file(ctx.conn, library)
        history = store.reading_history(ctx.conn)
        lantern = store.get_book(ctx.conn, "the-lantern-keeper-s-almanac-ivo-brandt")
    assert db.read_bytes() == before
    assert sorted(p.name for p in library.iterdir()) == ["metadata.db"]
    assert report.imported == 4
    assert [str(p) for p in report.skipped] == ["Calibre book id 5: title is empty"]
    assert history["beloved-morrison"].status == "liked"
    assert history["norwegian-wood-murakami"].status == "disliked"  # 4/10 = 2 stars
    assert history["silence-endo"].status == "to-read"
    assert lantern.isbn == "9780306406157" and lantern.synopsis == "Tides & lamps"


def test_a_broken_file_writes_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "export.csv"
    broken.write_bytes(GOODREADS.read_bytes() + b"\n\xff\xfe\x00 not utf-8\n")
    with opened() as ctx:
        with pytest.raises(UserError, match="unreadable CSV"):
            import_file(ctx.conn, broken)
        assert store.reading_history(ctx.conn) == {}


def test_format_detection_errors(tmp_path: Path) -> None:
    other = tmp_path / "contacts.csv"
    other.write_text("name,phone\nAda,123\n")
    with pytest.raises(UserError, match="cannot tell the format"):
        detect_format(other)
    with pytest.raises(UserError, match="file not found"):
        detect_format(tmp_path / "nope.csv")
    with pytest.raises(UserError, match="not a StoryGraph export"), opened() as ctx:
        import_file(ctx.conn, GOODREADS, "storygraph")


def test_cli_import_counts_and_skipped_lines(tmp_path: Path) -> None:
    copy = tmp_path / "goodreads.csv"
    shutil.copy(GOODREADS, copy)
    result = run("books", "import", str(copy))
    assert result.exit_code == 0, result.output
    assert "imported 5, updated 0, unchanged 0, skipped 3" in result.stdout
    assert "skipped line 8: My Rating 'seven' is not a number" in result.stdout
    again = json.loads(run("books", "import", str(copy), "--json").stdout)
    assert (again["imported"], again["unchanged"], len(again["skipped"])) == (0, 5, 3)
    bad = run("books", "import", str(tmp_path / "missing.csv"))
    assert bad.exit_code == 2 and "missing.csv" in bad.stderr


def test_cli_list_search_and_mark() -> None:
    listed = json.loads(run("books", "list", "--json").stdout)
    assert len(listed) >= 250
    assert {"id", "title", "author", "year", "genres", "synopsis"} <= set(listed[0])
    found = json.loads(run("books", "search", "garcia marquez", "--json").stdout)
    assert found and all("Márquez" in b["author"] for b in found)
    assert (
        json.loads(run("books", "search", "desert spice planet", "--json").stdout)[0]["id"]
        == "dune-herbert"
    )
    assert run("books", "mark", "Dune", "liked").exit_code == 0
    with opened() as ctx:
        assert store.get_reading(ctx.conn, "dune-herbert").status == "liked"
    missing = run("books", "mark", "No Such Book Title", "liked")
    assert missing.exit_code == 2 and "no book" in missing.stderr
