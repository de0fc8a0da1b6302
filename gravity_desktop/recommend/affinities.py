"""Which book attributes each profile facet draws a reader toward (docs/recommendations.md).

Keys are "genre:…", "theme:…" and "mood:…" from resources/books/vocabulary.json. A facet's
`high` list is what a reader at the facet's high pole tends to look for, `low` what a reader at
the low pole does. These are documented heuristics drawn from the reading-preference literature
(e.g. openness and a taste for complex, unconventional fiction; need for closure and genre
fiction), not fitted weights; the evaluation harness measures how well they serve readers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Affinity:
    high: tuple[str, ...]
    low: tuple[str, ...] = ()
    high_phrase: str = ""
    low_phrase: str = ""


OCEAN = {
    "O": Affinity(
        (
            "genre:science fiction",
            "genre:fantasy",
            "genre:magical realism",
            "genre:poetry",
            "genre:philosophy",
            "genre:literary fiction",
            "mood:challenging",
            "mood:lyrical",
            "theme:art",
            "theme:identity",
            "theme:exploration",
        ),
        (
            "genre:mystery",
            "genre:crime",
            "genre:thriller",
            "genre:romance",
            "genre:humor",
            "mood:lighthearted",
        ),
        "your openness to new ideas",
        "your taste for the familiar and concrete",
    ),
    "C": Affinity(
        (
            "genre:history",
            "genre:biography",
            "genre:science",
            "genre:classic",
            "theme:ambition",
            "theme:justice",
        ),
        ("genre:humor", "genre:adventure", "mood:lighthearted"),
        "your conscientiousness",
        "your spontaneity",
    ),
    "E": Affinity(
        (
            "genre:adventure",
            "genre:humor",
            "mood:adventurous",
            "mood:funny",
            "theme:friendship",
            "theme:city life",
        ),
        ("mood:reflective", "mood:melancholic", "theme:isolation", "theme:nature", "theme:memory"),
        "your outgoing side",
        "your liking for quiet and reflection",
    ),
    "A": Affinity(
        (
            "mood:hopeful",
            "mood:emotional",
            "theme:friendship",
            "theme:family",
            "theme:community",
            "theme:love",
        ),
        ("genre:satire", "genre:crime", "genre:thriller", "mood:dark"),
        "your warmth",
        "your sceptical, direct side",
    ),
    "N": Affinity(
        ("mood:hopeful", "mood:lighthearted", "mood:emotional"),
        ("mood:dark", "mood:tense", "mood:challenging"),
        "your wish for books that comfort",
        "your steadiness with dark material",
    ),
}

SCHWARTZ = {
    "self_direction": Affinity(
        (
            "theme:freedom",
            "theme:identity",
            "theme:rebellion",
            "theme:exploration",
            "genre:philosophy",
        )
    ),
    "stimulation": Affinity(
        (
            "genre:adventure",
            "genre:thriller",
            "genre:science fiction",
            "mood:adventurous",
            "mood:tense",
        )
    ),
    "hedonism": Affinity(
        ("genre:romance", "genre:humor", "mood:funny", "mood:lighthearted", "mood:romantic")
    ),
    "achievement": Affinity(("theme:ambition", "theme:money", "genre:biography")),
    "power": Affinity(("theme:power", "theme:politics", "theme:money", "theme:war")),
    "security": Affinity(("theme:family", "theme:community", "theme:survival", "mood:hopeful")),
    "conformity": Affinity(("theme:tradition", "theme:morality", "theme:community")),
    "tradition": Affinity(
        (
            "theme:tradition",
            "theme:religion",
            "theme:spirituality",
            "theme:history",
            "genre:classic",
            "genre:mythology",
        )
    ),
    "benevolence": Affinity(
        ("theme:family", "theme:friendship", "theme:love", "theme:community", "mood:emotional")
    ),
    "universalism": Affinity(
        (
            "theme:nature",
            "theme:justice",
            "theme:race",
            "theme:colonialism",
            "theme:migration",
            "theme:gender",
            "genre:science",
        )
    ),
}

HOFSTEDE = {
    "PDI": Affinity(
        ("theme:power", "theme:class", "theme:tradition"),
        ("theme:justice", "theme:rebellion", "theme:freedom"),
        "your acceptance of hierarchy",
        "your expectation of equality",
    ),
    "IDV": Affinity(
        ("theme:identity", "theme:freedom", "theme:coming of age", "theme:ambition"),
        ("theme:family", "theme:community", "theme:tradition"),
        "your individualist outlook",
        "your group-oriented outlook",
    ),
    "MAS": Affinity(
        ("theme:ambition", "theme:war", "theme:survival", "theme:power", "genre:thriller"),
        ("theme:love", "theme:family", "theme:friendship", "theme:nature"),
        "your competitive drive",
        "your focus on caring and quality of life",
    ),
    "UAI": Affinity(
        ("genre:mystery", "genre:crime", "genre:classic", "genre:history"),
        (
            "genre:magical realism",
            "genre:dystopian",
            "genre:science fiction",
            "mood:challenging",
            "mood:mysterious",
        ),
        "your liking for clear structure",
        "your comfort with ambiguity",
    ),
    "LTO": Affinity(
        ("genre:history", "genre:philosophy", "genre:science", "theme:history", "theme:memory"),
        ("theme:tradition", "theme:religion", "mood:funny"),
        "your long-term, reflective outlook",
        "your attachment to tradition",
    ),
    "IVR": Affinity(
        (
            "genre:humor",
            "genre:romance",
            "genre:adventure",
            "mood:funny",
            "mood:lighthearted",
            "mood:romantic",
        ),
        ("mood:reflective", "mood:melancholic", "theme:morality"),
        "your appetite for enjoyment",
        "your restraint",
    ),
}

WVS = {
    "traditional_secular": Affinity(
        ("genre:science", "genre:philosophy", "theme:technology"),
        ("theme:religion", "theme:spirituality", "theme:tradition", "theme:family"),
        "your secular-rational outlook",
        "your traditional values",
    ),
    "survival_self_expression": Affinity(
        ("theme:gender", "theme:race", "theme:identity", "theme:freedom", "theme:art"),
        ("theme:survival", "theme:war", "theme:money", "theme:community"),
        "your self-expression values",
        "your security-first values",
    ),
}

# How much one facet at its pole counts, against a direct interest (1.5 per matching genre).
FRAMEWORK_WEIGHTS = {"ocean": 0.4, "schwartz": 0.4, "hofstede": 0.2, "wvs": 0.2}
