"""How each profile facet should shape a book description, and the words that show it did.

For every facet pole: what a description should bring forward for such a reader, what would put
them off, and the opposite framing used for the rejected text. `CUES` are word stems whose presence
signals that a text serves the pole; the fit filter counts them, independently of the prompts.
All wording is the project's own (docs/gravity-method.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Framing:
    bring_forward: str
    put_off: str
    cues: tuple[str, ...]


# fmt: off
# (high pole, low pole) per facet.
OCEAN: dict[str, tuple[Framing, Framing]] = {
    "O": (
        Framing(
            "the ideas the book plays with, its imaginative reach and what is unusual about it",
            "a flat plot summary that makes it sound ordinary",
            (
                "idea", "imagin", "unusual", "strange", "question", "vision", "inventive",
                "explor", "wonder", "bold", "original", "mind",
            ),
        ),
        Framing(
            "a clear, concrete account of who the people are and what happens to them",
            "abstract talk about themes and ideas",
            (
                "clear", "simple", "story", "follow", "familiar", "straightforward", "plain",
                "real", "practical", "concrete", "everyday", "grounded",
            ),
        ),
    ),
    "C": (
        Framing(
            "how carefully the book is built and what it rewards a patient reader with",
            "vague enthusiasm with no sense of structure",
            (
                "careful", "craft", "structur", "detail", "precise", "patient", "discipline",
                "order", "method", "rewards", "thorough", "built",
            ),
        ),
        Framing(
            "its spontaneity, surprises and freedom of movement",
            "stressing how demanding or methodical it is",
            (
                "surpris", "spontan", "free", "loose", "playful", "unexpected", "wander",
                "lively", "restless", "impuls", "easy", "light",
            ),
        ),
    ),
    "E": (
        Framing(
            "its energy, lively characters and the company they keep", "a hushed, inward tone",
            (
                "lively", "energ", "crowd", "company", "friends", "vivid", "bustl", "social",
                "loud", "party", "talk", "together",
            ),
        ),
        Framing(
            "its quiet, inward moments and room for reflection",
            "noise, bustle and a hard-selling tone",
            (
                "quiet", "inward", "solitud", "reflect", "still", "alone", "calm", "intimate",
                "thought", "silence", "gentle", "slow",
            ),
        ),
    ),
    "A": (
        Framing(
            "the warmth, kindness and bonds between the characters",
            "cynicism and a cold, mocking tone",
            (
                "warm", "kind", "tender", "bond", "care", "compassion", "gentle", "friend",
                "love", "trust", "generous", "heart",
            ),
        ),
        Framing(
            "its sharp edges, conflicts and unsentimental honesty", "sentimental, sugary praise",
            (
                "sharp", "conflict", "honest", "unsentimental", "bite", "harsh", "sceptic",
                "skeptic", "ruthless", "blunt", "cold", "edge",
            ),
        ),
    ),
    "N": (
        Framing(
            "what is reassuring or hopeful in the book, and a gentle heads-up about its hard parts",
            "dwelling on horror, dread and distress",
            (
                "hope", "comfort", "reassur", "gentle", "warm", "heal", "tender", "safe",
                "light", "consol", "calm", "kind",
            ),
        ),
        Framing(
            "its intensity and how it does not flinch from hard material",
            "softening or apologising for its darkness",
            (
                "intens", "unflinch", "dark", "stark", "raw", "brutal", "grim", "fierce",
                "relentless", "harrow", "bleak", "power",
            ),
        ),
    ),
}

SCHWARTZ: dict[str, Framing] = {
    "self_direction": Framing(
        "characters thinking for themselves and choosing their own path",
        "stressing obedience and fitting in",
        (
            "choos", "own path", "independen", "free", "think for", "curios", "decide", "self",
            "question", "explor", "forge", "discover",
        ),
    ),
    "stimulation": Framing(
        "excitement, risk, novelty and a sense of adventure", "a slow, uneventful framing",
        (
            "excit", "adventur", "risk", "thrill", "danger", "daring", "novel", "wild",
            "journey", "pace", "pulse", "escape",
        ),
    ),
    "hedonism": Framing(
        "the pleasure of reading it: its humour, sensual detail and fun",
        "a dutiful, joyless framing",
        (
            "pleasur", "delight", "fun", "humor", "humour", "joy", "enjoy", "sensual", "savor",
            "savour", "playful", "laugh",
        ),
    ),
    "achievement": Framing(
        "ambition, striving and what characters accomplish", "passivity and drift",
        (
            "ambit", "strive", "success", "achiev", "accomplish", "goal", "rise", "talent",
            "determin", "excel", "win", "effort",
        ),
    ),
    "power": Framing(
        "status, control, rivalry and who holds power", "ignoring the contest for power",
        (
            "power", "control", "status", "rival", "dominat", "authority", "rule", "influence",
            "command", "wealth", "throne", "ambition",
        ),
    ),
    "security": Framing(
        "safety, stability and the protection of home and family", "chaos and recklessness",
        (
            "safe", "secur", "stabil", "protect", "home", "shelter", "order", "steady", "refuge",
            "survive", "family", "peace",
        ),
    ),
    "conformity": Framing(
        "duty, restraint and the rules people live by", "celebrating rule-breaking",
        (
            "duty", "restrain", "rule", "proper", "obedien", "respect", "manners", "obligation",
            "discipline", "expect", "polite", "custom",
        ),
    ),
    "tradition": Framing(
        "custom, faith, heritage and continuity with the past", "mocking custom and faith",
        (
            "tradition", "custom", "faith", "heritage", "ancestr", "ritual", "sacred", "roots",
            "elder", "belief", "past", "legacy",
        ),
    ),
    "benevolence": Framing(
        "loyalty and care among family and friends", "indifference to the people close by",
        (
            "loyal", "care", "family", "friend", "help", "devot", "kind", "love", "support",
            "bond", "forgiv", "tender",
        ),
    ),
    "universalism": Framing(
        "justice, tolerance, and care for all people and for nature",
        "narrow, us-against-them framing",
        (
            "justice", "toleran", "equal", "nature", "world", "human", "dignit", "rights",
            "environment", "peace", "understand", "fair",
        ),
    ),
}

HOFSTEDE: dict[str, tuple[Framing, Framing]] = {
    "PDI": (
        Framing(
            "hierarchy, rank and respect for those in charge", "scorn for authority",
            (
                "rank", "hierarch", "authority", "elder", "master", "respect", "order", "duty",
                "station", "superior", "court", "power",
            ),
        ),
        Framing(
            "equality and ordinary people standing up to those above them", "deference to rank",
            (
                "equal", "ordinary", "stand up", "challenge", "resist", "defy", "common", "fair",
                "rebel", "voice", "justice", "free",
            ),
        ),
    ),
    "IDV": (
        Framing(
            "one person's journey, choices and sense of self",
            "dissolving the hero into the group",
            (
                "own", "individual", "self", "identity", "personal", "choice", "journey",
                "alone", "independen", "free", "her own", "his own",
            ),
        ),
        Framing(
            "family, community and belonging to a group", "a lone-hero framing",
            (
                "family", "community", "together", "belong", "village", "generation", "clan",
                "kin", "collective", "neighbo", "share", "bond",
            ),
        ),
    ),
    "MAS": (
        Framing(
            "competition, achievement and hard-won victories", "a soft, modest framing",
            (
                "compet", "win", "victor", "achiev", "strong", "struggle", "fight", "success",
                "conquer", "ambit", "battle", "tough",
            ),
        ),
        Framing(
            "care, modesty and quality of life", "glorifying winners",
            (
                "care", "modest", "gentle", "quality", "balance", "nurtur", "kind", "quiet",
                "simple", "ordinary", "tender", "humble",
            ),
        ),
    ),
    "UAI": (
        Framing(
            "a clear setup and what kind of story to expect",
            "leaving everything vague and open",
            (
                "clear", "expect", "structure", "order", "solv", "resolv", "plain", "answer",
                "certain", "rules", "careful", "precise",
            ),
        ),
        Framing(
            "its ambiguity, open questions and mysteries left unsolved",
            "promising tidy answers",
            (
                "ambigu", "open", "mystery", "uncertain", "strange", "unknown", "puzzl",
                "question", "elusive", "unresolved", "surreal", "dream",
            ),
        ),
    ),
    "LTO": (
        Framing(
            "patience, perseverance and consequences that unfold over time",
            "only the quick thrills",
            (
                "patien", "persever", "time", "generation", "future", "long", "endur", "slow",
                "years", "consequen", "legacy", "lasting",
            ),
        ),
        Framing(
            "tradition, honour and the immediate moment", "a distant, long-view framing",
            (
                "tradition", "honou", "moment", "now", "present", "custom", "pride", "duty",
                "today", "immediate", "face", "respect",
            ),
        ),
    ),
    "IVR": (
        Framing(
            "enjoyment, humour and the freedom to have fun", "solemn restraint",
            (
                "fun", "enjoy", "humo", "laugh", "pleasur", "delight", "play", "joy", "freedom",
                "celebrat", "lively", "wit",
            ),
        ),
        Framing(
            "restraint, seriousness and moral weight", "a light, frivolous tone",
            (
                "restrain", "serious", "moral", "sober", "grave", "duty", "discipline",
                "austere", "solemn", "weight", "conscience", "modest",
            ),
        ),
    ),
}

WVS: dict[str, tuple[Framing, Framing]] = {
    "traditional_secular": (
        Framing(
            "reason, science and questioning received beliefs",
            "treating faith as beyond question",
            (
                "reason", "science", "question", "rational", "evidence", "doubt", "modern",
                "secular", "logic", "knowledge", "inquir", "critic",
            ),
        ),
        Framing(
            "faith, family and respect for tradition", "sneering at religion or family values",
            (
                "faith", "family", "god", "tradition", "sacred", "pray", "belief", "spirit",
                "church", "temple", "respect", "devot",
            ),
        ),
    ),
    "survival_self_expression": (
        Framing(
            "self-expression, tolerance and personal freedom", "treating difference as a threat",
            (
                "freedom", "express", "toleran", "identity", "voice", "diverse", "accept",
                "creative", "equal", "open", "yourself", "choice",
            ),
        ),
        Framing(
            "security, hardship and what it takes to get by", "lofty talk of self-fulfilment",
            (
                "surviv", "secur", "hardship", "poverty", "work", "safety", "struggle", "money",
                "endur", "food", "shelter", "stability",
            ),
        ),
    ),
}

# fmt: on


def interest_framing(kind: str, value: str) -> Framing:
    """A reader's chosen genre, theme or mood, brought forward in the description."""
    if kind == "mood":
        return Framing(f"the book's {value} mood", f"a tone that hides how {value} it is",
                       (value.split()[0],))  # fmt: skip
    return Framing(
        f"what the book offers as {value if kind == 'genre' else 'a story about ' + value}",
        f"a description that leaves out its {value} side",
        tuple(word[:6] for word in value.split()),
    )


def culture_framing(country_name: str, language_name: str | None) -> Framing:
    """The reader's own country and language as a point of connection."""
    language = f" or its {language_name} original" if language_name else ""
    return Framing(
        f"connections a reader from {country_name} would notice{language}",
        "a description that assumes an American or British reader",
        (*(w[:6].lower() for w in country_name.split()), "home", "familiar", "culture"),
    )
