"""How each profile facet should shape a book description, and the words that show it did.

For every facet pole: what a description should bring forward for such a reader, what would put
them off, and the opposite framing used for the rejected text. The cues are word stems whose
presence signals that a text serves the pole; the fit filter counts them, independently of the
prompts. A cue must tell the poles apart in a teacher's descriptions: words every description
uses ("story", "follows", "explores", "world") are left out, since they only tie the two texts.
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
                "wonder", "bold", "original", "mind", "unique", "unconvention", "thought provok",
                "poetic", "experiment", "surreal", "philosoph", "creativ",
            ),
        ),
        Framing(
            "a clear, concrete account of who the people are and what happens to them",
            "abstract talk about themes and ideas",
            (
                "clear", "simple", "familiar", "straightforward", "plain", "practical",
                "concrete", "everyday", "grounded", "accessible", "direct", "down to earth",
                "relatable", "ordinary", "literal",
            ),
        ),
    ),
    "C": (
        Framing(
            "how carefully the book is built and what it rewards a patient reader with",
            "vague enthusiasm with no sense of structure",
            (
                "careful", "craft", "structur", "detail", "precise", "patient", "discipline",
                "order", "method", "rewards", "thorough", "built", "meticulous", "deliberate",
                "layered", "intricate", "rigor", "design",
            ),
        ),
        Framing(
            "its spontaneity, surprises and freedom of movement",
            "stressing how demanding or methodical it is",
            (
                "surpris", "spontan", "free", "loose", "playful", "unexpected", "wander",
                "lively", "restless", "impuls", "easy", "light", "whimsic", "carefree", "breez",
                "twist", "improvis", "fresh",
            ),
        ),
    ),
    "E": (
        Framing(
            "its energy, lively characters and the company they keep", "a hushed, inward tone",
            (
                "lively", "energ", "crowd", "company", "friends", "vivid", "bustl", "social",
                "loud", "party", "talk", "together", "vibrant", "exuberan", "festiv", "gather",
                "banter", "boister",
            ),
        ),
        Framing(
            "its quiet, inward moments and room for reflection",
            "noise, bustle and a hard-selling tone",
            (
                "quiet", "inward", "solitud", "reflect", "alone", "calm", "intimate", "silence",
                "gentle", "slow", "introspect", "contemplat", "meditat", "hush", "private",
                "interior", "solitar",
            ),
        ),
    ),
    "A": (
        Framing(
            "the warmth, kindness and bonds between the characters",
            "cynicism and a cold, mocking tone",
            (
                "warm", "kind", "tender", "bond", "care", "compassion", "gentle", "friend",
                "love", "trust", "generous", "heart", "affection", "empath", "cherish", "embrac",
                "mercy", "nurtur", "loyal",
            ),
        ),
        Framing(
            "its sharp edges, conflicts and unsentimental honesty", "sentimental, sugary praise",
            (
                "sharp", "conflict", "honest", "unsentimental", "bite", "harsh", "sceptic",
                "skeptic", "ruthless", "blunt", "cold", "edge", "cynic", "bitter", "clash",
                "unsparing", "cutting", "abrasive", "satir",
            ),
        ),
    ),
    "N": (
        Framing(
            "what is reassuring or hopeful in the book, and a gentle heads-up about its hard parts",
            "dwelling on horror, dread and distress",
            (
                "hope", "comfort", "reassur", "gentle", "warm", "heal", "tender", "safe",
                "light", "consol", "calm", "kind", "uplift", "resilien", "solace", "sooth",
                "optimis", "peace",
            ),
        ),
        Framing(
            "its intensity and how it does not flinch from hard material",
            "softening or apologising for its darkness",
            (
                "intens", "unflinch", "dark", "stark", "raw", "brutal", "grim", "fierce",
                "relentless", "harrow", "bleak", "power", "visceral", "devastat", "haunt",
                "violen", "trauma", "unsettl", "gripping",
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
            "question", "forge", "discover", "autonom", "own way", "individual", "own mind",
            "inquisitiv", "nonconform",
        ),
    ),
    "stimulation": Framing(
        "excitement, risk, novelty and a sense of adventure", "a slow, uneventful framing",
        (
            "excit", "adventur", "risk", "thrill", "danger", "daring", "novelty", "wild",
            "journey", "pace", "pulse", "escape", "adrenal", "bold", "quest", "breathless",
            "unpredictab", "exhilarat",
        ),
    ),
    "hedonism": Framing(
        "the pleasure of reading it: its humour, sensual detail and fun",
        "a dutiful, joyless framing",
        (
            "pleasur", "delight", "fun", "funny", "humor", "humour", "joy", "joyful", "enjoy",
            "sensual", "savor", "savour", "playful", "laugh", "comic", "witty", "indulg",
            "sumptuous",
        ),
    ),
    "achievement": Framing(
        "ambition, striving and what characters accomplish", "passivity and drift",
        (
            "ambit", "strive", "success", "achiev", "accomplish", "goal", "rise", "talent",
            "determin", "excel", "win", "winn", "effort", "triumph", "persever", "drive",
            "prove",
        ),
    ),
    "power": Framing(
        "status, control, rivalry and who holds power", "ignoring the contest for power",
        (
            "power", "control", "status", "rival", "dominat", "authority", "rule", "influence",
            "command", "wealth", "throne", "ambition", "prestige", "empire",
            "ruthless", "scheming", "intrigue",
        ),
    ),
    "security": Framing(
        "safety, stability and the protection of home and family", "chaos and recklessness",
        (
            "safe", "secur", "stabil", "protect", "home", "shelter", "order", "steady", "refuge",
            "survive", "family", "peace", "guard", "sanctuary", "depend", "routine",
        ),
    ),
    "conformity": Framing(
        "duty, restraint and the rules people live by", "celebrating rule-breaking",
        (
            "duty", "restrain", "rule", "proper", "obedien", "respect", "manners", "obligation",
            "discipline", "expect", "polite", "custom", "convention", "propriety", "decorum",
            "reputation", "norms", "dutiful",
        ),
    ),
    "tradition": Framing(
        "custom, faith, heritage and continuity with the past", "mocking custom and faith",
        (
            "tradition", "custom", "faith", "heritage", "ancestr", "ritual", "sacred", "roots",
            "elder", "belief", "legacy", "ancient", "inherit", "religio", "rite", "ceremon",
            "continuity",
        ),
    ),
    "benevolence": Framing(
        "loyalty and care among family and friends", "indifference to the people close by",
        (
            "loyal", "care", "family", "friend", "help", "devot", "kind", "love", "support",
            "bond", "forgiv", "tender", "compassion", "sacrific", "protect", "cherish",
            "affection", "selfless",
        ),
    ),
    "universalism": Framing(
        "justice, tolerance, and care for all people and for nature",
        "narrow, us-against-them framing",
        (
            "justice", "toleran", "equal", "nature", "humanit", "dignit", "rights",
            "environment", "peace", "understand", "fair", "empath", "inclus", "solidarit",
            "all people", "prejudice", "harmony",
        ),
    ),
}

HOFSTEDE: dict[str, tuple[Framing, Framing]] = {
    "PDI": (
        Framing(
            "hierarchy, rank and respect for those in charge", "scorn for authority",
            (
                "rank", "hierarch", "authority", "elder", "respect", "order", "duty", "station",
                "superior", "court", "power", "servant", "obey", "obedien", "noble", "deferen",
                "king",
            ),
        ),
        Framing(
            "equality and ordinary people standing up to those above them", "deference to rank",
            (
                "equal", "ordinary", "stand up", "challenge", "resist", "defy", "common", "fair",
                "rebel", "voice", "justice", "free", "protest", "defiant", "underdog",
                "grassroots", "uprising", "oppress",
            ),
        ),
    ),
    "IDV": (
        Framing(
            "one person's journey, choices and sense of self",
            "dissolving the hero into the group",
            (
                "individual", "self", "identity", "personal", "choice", "journey", "alone",
                "independen", "free", "her own", "his own", "autonom", "ambition", "inner",
                "discover", "unique",
            ),
        ),
        Framing(
            "family, community and belonging to a group", "a lone-hero framing",
            (
                "family", "community", "together", "belong", "village", "generation", "clan",
                "kin", "kinship", "collective", "neighbo", "share", "bond", "tribe", "solidarit",
                "communal", "relatives", "ancestor", "tradition",
            ),
        ),
    ),
    "MAS": (
        Framing(
            "competition, achievement and hard-won victories", "a soft, modest framing",
            (
                "compet", "win", "victor", "achiev", "strong", "struggle", "fight", "success",
                "conquer", "ambit", "battle", "tough", "winn", "rival", "triumph", "dominan",
                "champion", "contest",
            ),
        ),
        Framing(
            "care, modesty and quality of life", "glorifying winners",
            (
                "care", "modest", "gentle", "quality", "balance", "nurtur", "kind", "quiet",
                "simple", "ordinary", "tender", "humble", "cooperat", "compassion", "wellbeing",
                "harmony", "comfort", "slow",
            ),
        ),
    ),
    "UAI": (
        Framing(
            "a clear setup and what kind of story to expect",
            "leaving everything vague and open",
            (
                "clear", "expect", "structure", "order", "solv", "resolv", "plain", "answer",
                "certain", "rules", "careful", "precise", "straightforward", "logical",
                "predictab", "coheren", "explain", "reliab",
            ),
        ),
        Framing(
            "its ambiguity, open questions and mysteries left unsolved",
            "promising tidy answers",
            (
                "ambigu", "open", "mystery", "uncertain", "strange", "unknown", "puzzl",
                "question", "elusive", "unresolved", "surreal", "dream", "enigma", "riddle",
                "unclear", "haunt", "paradox", "ambival",
            ),
        ),
    ),
    "LTO": (
        Framing(
            "patience, perseverance and consequences that unfold over time",
            "only the quick thrills",
            (
                "patien", "persever", "generation", "future", "endur", "slow", "consequen",
                "legacy", "lasting", "decades", "gradual", "persist", "over time", "long term",
                "thrift", "invest",
            ),
        ),
        Framing(
            "tradition, honour and the immediate moment", "a distant, long-view framing",
            (
                "tradition", "honou", "moment", "now", "present", "custom", "pride", "duty",
                "today", "immediate", "respect", "instant", "urgent", "dignity", "reputation",
                "saving face", "heritage",
            ),
        ),
    ),
    "IVR": (
        Framing(
            "enjoyment, humour and the freedom to have fun", "solemn restraint",
            (
                "fun", "enjoy", "humo", "laugh", "pleasur", "delight", "play", "joy", "freedom",
                "celebrat", "lively", "wit", "witty", "funny", "joyful", "carefree", "festiv",
                "indulg", "exuberan",
            ),
        ),
        Framing(
            "restraint, seriousness and moral weight", "a light, frivolous tone",
            (
                "restrain", "serious", "moral", "sober", "grave", "duty", "discipline",
                "austere", "solemn", "weight", "conscience", "modest", "restraint", "severe",
                "ethic", "somber", "sombre", "dutiful",
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
                "secular", "logic", "knowledge", "inquir", "critic", "scientif", "skeptic",
                "sceptic", "analy", "intellect", "debate",
            ),
        ),
        Framing(
            "faith, family and respect for tradition", "sneering at religion or family values",
            (
                "faith", "family", "god", "tradition", "sacred", "pray", "belief", "spirit",
                "church", "temple", "respect", "devot", "religio", "worship", "pious", "moral",
                "ancestr", "elders",
            ),
        ),
    ),
    "survival_self_expression": (
        Framing(
            "self-expression, tolerance and personal freedom", "treating difference as a threat",
            (
                "freedom", "express", "toleran", "identity", "voice", "diverse", "accept",
                "creative", "equal", "open", "yourself", "choice", "individual", "liberat",
                "authentic", "inclus", "divers", "self express",
            ),
        ),
        Framing(
            "security, hardship and what it takes to get by", "lofty talk of self-fulfilment",
            (
                "surviv", "secur", "hardship", "poverty", "work", "safety", "struggle", "money",
                "endur", "food", "shelter", "stability", "scarc", "hunger", "labor", "labour",
                "wages", "desperat",
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
