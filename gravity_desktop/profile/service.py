"""Onboarding and profile versions: the functions the CLI and the wizard both call.

Answers are validated before they touch the store; completing the questionnaire (or retaking a
section) freezes the current answers into a new profile version in one transaction.
"""

from __future__ import annotations

import sqlite3

from gravity_desktop.errors import UserError
from gravity_desktop.profile.answers import Answers, parse_answers, parse_item_answers
from gravity_desktop.profile.instruments import load_questionnaire
from gravity_desktop.profile.profile import Profile, build_profile
from gravity_desktop.store import profiles, transaction


def onboard(conn: sqlite3.Connection, answers: Answers, reason: str = "onboarding") -> Profile:
    """Store these answers as the draft and make them the current profile."""
    with transaction(conn):
        profiles.replace_draft(
            conn,
            answers.answers,
            {
                "about": {**answers.about, "country": answers.country},
                "interests": answers.interests,
            },
        )
        version = profiles.add_version(conn, reason, answers.as_json())
    return build_profile(answers, version=version)


def record_answer(conn: sqlite3.Connection, item_id: str, value: int | None) -> None:
    """Save (or, with None, withdraw) one answer as the reader gives it."""
    if value is None:
        profiles.clear_answer(conn, item_id)
        return
    parse_item_answers({item_id: value}, load_questionnaire())
    profiles.save_answer(conn, item_id, value)


def record_field(conn: sqlite3.Connection, section: str, field: str, value: object) -> None:
    """Save one about-you or interests field (the country goes in "about"); None clears it."""
    if value is None:
        profiles.clear_field(conn, section, field)
        return
    if section == "about" and field == "country":
        parse_answers({"country": value})
    else:
        parse_answers({"country": "US", section: {field: value}})
    profiles.save_field(conn, section, field, value)


def draft(conn: sqlite3.Connection) -> tuple[dict[str, int], dict[str, dict[str, object]]]:
    """The answers saved so far (item answers, and fields by section), for resuming."""
    return profiles.draft_answers(conn), profiles.draft_fields(conn)


def draft_as_answers(conn: sqlite3.Connection) -> Answers:
    items, fields = draft(conn)
    about = dict(fields.get("about", {}))
    country = about.pop("country", None)
    if country is None:
        raise UserError("about: the country is not answered yet")
    return parse_answers(
        {
            "country": country,
            "answers": items,
            "about": about,
            "interests": fields.get("interests", {}),
        }
    )


def complete(conn: sqlite3.Connection, reason: str = "onboarding") -> Profile:
    """Freeze the draft into a new profile version (after onboarding or retaking a section)."""
    answers = draft_as_answers(conn)
    with transaction(conn):
        version = profiles.add_version(conn, reason, answers.as_json())
    return build_profile(answers, version=version)


def current_profile(conn: sqlite3.Connection) -> Profile | None:
    stored = profiles.current_version(conn)
    if stored is None:
        return None
    return build_profile(parse_answers(stored.answers), version=stored.version)


def profile_version(conn: sqlite3.Connection, version: int) -> Profile:
    stored = profiles.get_version(conn, version)
    if stored is None:
        raise UserError(f"there is no profile version {version}")
    return build_profile(parse_answers(stored.answers), version=stored.version)
