"""The local store: one SQLite database with numbered migrations and small repository modules."""

from gravity_desktop.store.db import APPLICATION_ID, open_store, transaction

__all__ = ["APPLICATION_ID", "open_store", "transaction"]
