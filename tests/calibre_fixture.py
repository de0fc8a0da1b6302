"""A small Calibre library (the tables of metadata.db the importer reads), built for tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT 'Unknown',
    sort TEXT, timestamp TIMESTAMP, pubdate TIMESTAMP, series_index REAL NOT NULL DEFAULT 1.0,
    author_sort TEXT, path TEXT NOT NULL DEFAULT '', uuid TEXT, has_cover BOOL DEFAULT 0);
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, sort TEXT, link TEXT);
CREATE TABLE books_authors_link (id INTEGER PRIMARY KEY, book INTEGER NOT NULL,
    author INTEGER NOT NULL);
CREATE TABLE identifiers (id INTEGER PRIMARY KEY, book INTEGER NOT NULL, type TEXT NOT NULL,
    val TEXT NOT NULL);
CREATE TABLE ratings (id INTEGER PRIMARY KEY, rating INTEGER);
CREATE TABLE books_ratings_link (id INTEGER PRIMARY KEY, book INTEGER NOT NULL,
    rating INTEGER NOT NULL);
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE books_tags_link (id INTEGER PRIMARY KEY, book INTEGER NOT NULL, tag INTEGER NOT NULL);
CREATE TABLE comments (id INTEGER PRIMARY KEY, book INTEGER NOT NULL, text TEXT NOT NULL);
"""

# (title, author, isbn, rating 0-10, tags, comment)
BOOKS = [
    ("Beloved", "Toni Morrison", "", 10, ["read"], "<p>A novel of memory.</p>"),
    ("Norwegian Wood", "Murakami Haruki", "", 4, [], ""),
    ("Silence", "Shūsaku Endō", "", 0, ["to-read"], ""),
    (
        "The Lantern Keeper's Almanac",
        "Ivo Brandt",
        "9780306406157",
        8,
        [],
        "<b>Tides</b> &amp; lamps",
    ),
    ("", "Anonymous", "", 0, [], ""),
]


def build_calibre_library(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "metadata.db"
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA)
    for book_id, (title, author, isbn, rating, tags, comment) in enumerate(BOOKS, start=1):
        conn.execute(
            "INSERT INTO books (id, title, pubdate) VALUES (?, ?, '0101-01-01 00:00:00+00:00')",
            (book_id, title),
        )
        conn.execute("INSERT INTO authors (id, name) VALUES (?, ?)", (book_id, author))
        conn.execute(
            "INSERT INTO books_authors_link (book, author) VALUES (?, ?)", (book_id, book_id)
        )
        if isbn:
            conn.execute(
                "INSERT INTO identifiers (book, type, val) VALUES (?, 'isbn', ?)", (book_id, isbn)
            )
        if rating:
            conn.execute("INSERT INTO ratings (id, rating) VALUES (?, ?)", (book_id, rating))
            conn.execute(
                "INSERT INTO books_ratings_link (book, rating) VALUES (?, ?)", (book_id, book_id)
            )
        for tag in tags:
            tag_id = conn.execute("INSERT INTO tags (name) VALUES (?)", (tag,)).lastrowid
            conn.execute("INSERT INTO books_tags_link (book, tag) VALUES (?, ?)", (book_id, tag_id))
        if comment:
            conn.execute("INSERT INTO comments (book, text) VALUES (?, ?)", (book_id, comment))
    conn.commit()
    conn.close()
    return db
