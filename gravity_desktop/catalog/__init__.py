"""Books: the bundled catalog, the reader's library and reading history, importers and search."""
