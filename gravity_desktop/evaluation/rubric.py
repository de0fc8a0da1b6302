"""What the judges know about a reader: first-person statements per clear facet, with weights.

The judges must not share wording with the prompts that produced the texts (the teacher's
framings in `gravity/facets.py`, the profile card in the prompt-conditioning method), or a method
would be rewarded for echoing its own instructions. So the judges get their own description of
the reader: one statement in the reader's voice for each facet where the profile has a clear
signal (same thresholds as the card: OCEAN 65/35, Schwartz +0.5 over the reader's mean, Hofstede
60/40, WVS 0.5 from the centre), plus the book's genres, themes and moods the reader chose, and
the reader's country when the book comes from it. Each statement has a contrasting one (the other
pole, or the value across Schwartz's circle), which the embedding judge uses to measure fit as
"closer to what this reader wants than to its opposite".
"""

from __future__ import annotations

from dataclasses import dataclass

from gravity_desktop.catalog.book import Book
from gravity_desktop.profile.profile import Profile

# (what a reader at the high pole says, what one at the low pole says)
OCEAN = {
    "O": (
        "I want a book that opens my mind: unusual ideas, inventive worlds, questions I had"
        " never asked.",
        "I want a plain, down-to-earth story about real people and what happens to them.",
    ),
    "C": (
        "I admire a carefully constructed book, precise in its detail, that rewards close reading.",
        "I like something loose and spontaneous, full of surprises, that I can dip into freely.",
    ),
    "E": (
        "I like lively, sociable books crowded with energetic characters and conversation.",
        "I like quiet, introspective books with solitude and room to think.",
    ),
    "A": (
        "I am moved by kindness, warmth and loyalty between people.",
        "I like sharp conflict, blunt honesty and characters who are hard on each other.",
    ),
    "N": (
        "I want to know that a book will comfort me and end in hope; grim, upsetting material"
        " worries me.",
        "I seek intense, harrowing books that do not spare me anything.",
    ),
}
SCHWARTZ = {
    "self_direction": "I admire characters who think for themselves and choose their own way.",
    "stimulation": "I want excitement, novelty and daring adventures.",
    "hedonism": "I read for pleasure, delight and fun.",
    "achievement": "I am inspired by ambition, competence and people who succeed through effort.",
    "power": "I am fascinated by status, wealth, control and who holds power.",
    "security": "I value safety, stability and a world kept in order.",
    "conformity": "I respect restraint, good manners and people who keep the rules.",
    "tradition": "I cherish faith, custom and the ways handed down by earlier generations.",
    "benevolence": "I care about loyalty, honesty and helping the people close to us.",
    "universalism": "I care about justice for everyone, tolerance and protecting nature.",
}
# Across Schwartz's circle (self-direction, stimulation, hedonism, achievement, power, security,
# conformity, tradition, benevolence, universalism): the value five steps away.
ACROSS = {
    "self_direction": "security",
    "stimulation": "conformity",
    "hedonism": "tradition",
    "achievement": "benevolence",
    "power": "universalism",
    "security": "self_direction",
    "conformity": "stimulation",
    "tradition": "hedonism",
    "benevolence": "achievement",
    "universalism": "power",
}
HOFSTEDE = {
    "PDI": (
        "It seems natural to me that people have their place and that elders and leaders are"
        " respected.",
        "I distrust hierarchy and side with those who treat everyone as equals.",
    ),
    "IDV": (
        "I identify with individuals who break away and go their own way.",
        "What matters most to me is family, community and belonging to a group.",
    ),
    "MAS": (
        "I admire competition, winning and toughness.",
        "I care about cooperation, modesty and a good quality of life.",
    ),
    "UAI": (
        "I like clarity and order, and knowing where a story is going.",
        "I enjoy ambiguity, open endings and the unknown.",
    ),
    "LTO": (
        "I value perseverance and patience toward a distant goal.",
        "I honour tradition and the present moment more than long-range plans.",
    ),
    "IVR": (
        "I like books that celebrate leisure, enjoyment and having fun.",
        "I prefer restraint, duty and self-discipline.",
    ),
}
WVS = {
    "traditional_secular": (
        "Reason, science and secular thought convince me more than religious authority.",
        "Religion, family and national tradition matter deeply to me.",
    ),
    "survival_self_expression": (
        "I care about self-expression, tolerance and individual freedom.",
        "I care about security, making a living and getting through hard times.",
    ),
}
PLAIN = "Just tell me the basic facts of the plot."
INTEREST = {
    "genres": "I love {} books.",
    "themes": "I am drawn to stories about {}.",
    "moods": "I look for books with a {} mood.",
}
CULTURE = "I enjoy books from {} that speak of my own culture."


@dataclass(frozen=True)
class JudgeItem:
    """What a judge is given: one reader, one held-out book, each method's description."""

    reader: str
    country: str
    book: Book
    profile: Profile
    descriptions: dict[str, str]  # method -> text


@dataclass(frozen=True)
class JudgedFacet:
    key: str  # "ocean:O+", "interest:genres:fantasy"
    wants: str  # what the reader says they want
    contrast: str  # the opposite, or a plain plot summary
    weight: float  # 0..1, how clearly the profile shows it


def reader_facets(profile: Profile, book: Book) -> list[JudgedFacet]:
    """The reader's clear facets for this book, strongest first."""
    found: list[JudgedFacet] = []
    for trait, (high, low) in OCEAN.items():
        score = profile.ocean.get(trait)
        if score is not None and abs(score - 50) >= 15:
            up = score > 50
            found.append(
                JudgedFacet(
                    f"ocean:{trait}{'+' if up else '-'}",
                    high if up else low,
                    low if up else high,
                    abs(score - 50) / 50,
                )
            )
    for value, centered in profile.schwartz.items():
        if centered is not None and centered >= 0.5:
            found.append(
                JudgedFacet(
                    f"schwartz:{value}",
                    SCHWARTZ[value],
                    SCHWARTZ[ACROSS[value]],
                    min(centered / 2, 1.0),
                )
            )
    for dim, (high, low) in HOFSTEDE.items():
        blended = profile.hofstede[dim]["blended"]
        if blended is not None and abs(blended - 50) >= 10:
            up = blended > 50
            found.append(
                JudgedFacet(
                    f"hofstede:{dim}{'+' if up else '-'}",
                    high if up else low,
                    low if up else high,
                    min(abs(blended - 50) / 50, 1.0),
                )
            )
    for axis, (high, low) in WVS.items():
        entry = profile.wvs[axis]
        position = entry["person"] if entry["person"] is not None else entry["country"]
        if position is not None and abs(position) >= 0.5:
            up = position > 0
            found.append(
                JudgedFacet(
                    f"wvs:{axis}{'+' if up else '-'}",
                    high if up else low,
                    low if up else high,
                    min(abs(position) / 2, 1.0),
                )
            )
    own = {"genres": book.genres, "themes": book.themes, "moods": book.moods}
    for field, template in INTEREST.items():
        for value in own[field]:
            if value in profile.interests.get(field, []):
                found.append(
                    JudgedFacet(f"interest:{field}:{value}", template.format(value), PLAIN, 1.0)
                )
    if book.country == profile.country.code:
        found.append(
            JudgedFacet(
                f"culture:{profile.country.code}",
                CULTURE.format(profile.country.name),
                PLAIN,
                0.8,
            )
        )
    return sorted(found, key=lambda f: (-f.weight, f.key))


def reader_statement(facets: list[JudgedFacet], limit: int = 8) -> str:
    """The reader in their own words, for the LLM judge: the strongest statements."""
    return " ".join(f.wants for f in facets[:limit]) or PLAIN
