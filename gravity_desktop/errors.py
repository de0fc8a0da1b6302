"""Errors the user can act on.

Every failure caused by input (a file, an answer, a setting) is raised as a `UserError` whose
message names the thing and what is wrong with it. The CLI prints the message on one line and
exits with `exit_code`; the app shows it in a dialog. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, reported as one readable line."""

    exit_code = 2


class ModelFileError(UserError):
    """A model or adapter file that cannot be used (missing, truncated, not GGUF, wrong kind)."""


class StoreError(UserError):
    """The database cannot be opened or migrated; the original file is left untouched."""


class ChecksumMismatch(UserError):
    """A file whose sha256 differs from the one expected."""

    exit_code = 1
