"""Reading-history importers: Goodreads and StoryGraph CSV exports, and Calibre libraries."""

from gravity_desktop.catalog.importers.run import FORMATS, ImportReport, detect_format, import_file

__all__ = ["FORMATS", "ImportReport", "detect_format", "import_file"]
