"""The profile card: a short, deterministic plain-English summary that later prompts use.

It names only what the scores say clearly (poles, strongest values, clear cultural leanings) so
that a prompt grounded in it does not over-read a middling answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gravity_desktop.profile.profile import Profile

from gravity_desktop.profile.culture import language_names

OCEAN_POLES = {
    "O": ("curious and open to new ideas", "drawn to the familiar and concrete"),
    "C": ("organised and dependable", "spontaneous and flexible"),
    "E": ("outgoing and energised by people", "reserved and at home in quiet"),
    "A": ("warm and cooperative", "direct and sceptical"),
    "N": ("sensitive to stress and strong feeling", "calm and emotionally steady"),
}
VALUE_GLOSS = {
    "self_direction": "self-direction (independent thought and choice)",
    "stimulation": "stimulation (novelty and excitement)",
    "hedonism": "hedonism (pleasure and enjoyment)",
    "achievement": "achievement (personal success)",
    "power": "power (status and control)",
    "security": "security (safety and stability)",
    "conformity": "conformity (restraint and respect for rules)",
    "tradition": "tradition (custom and faith)",
    "benevolence": "benevolence (care for people close to them)",
    "universalism": "universalism (tolerance and care for all people and nature)",
}
HOFSTEDE_POLES = {
    "PDI": ("accepts hierarchy", "expects equality"),
    "IDV": ("individualist", "group-oriented"),
    "MAS": ("competitive and achievement-driven", "focused on caring and quality of life"),
    "UAI": ("prefers clear rules and certainty", "comfortable with ambiguity"),
    "LTO": ("long-term and pragmatic", "anchored in tradition and the present"),
    "IVR": ("indulgent, valuing leisure and fun", "restrained"),
}
OCEAN_HIGH, OCEAN_LOW = 65.0, 35.0
HOFSTEDE_HIGH, HOFSTEDE_LOW = 60.0, 40.0
WVS_POLE = 0.5


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _language_names(codes: list[str]) -> list[str]:
    return [language_names().get(code, code) for code in codes]


def profile_card(profile: Profile) -> str:
    lines = [_reader_line(profile)]
    poles = []
    for trait, (high, low) in OCEAN_POLES.items():
        score = profile.ocean.get(trait)
        if score is not None and score >= OCEAN_HIGH:
            poles.append(high)
        elif score is not None and score <= OCEAN_LOW:
            poles.append(low)
    if poles:
        lines.append(f"Personality: {'; '.join(poles)}.")
    elif any(v is not None for v in profile.ocean.values()):
        lines.append("Personality: balanced, with no strong poles.")

    known = {k: v for k, v in profile.schwartz.items() if v is not None}
    if known:
        ranked = sorted(known, key=lambda k: (-known[k], k))
        top = [VALUE_GLOSS[v] for v in ranked[:2] if known[v] > 0]
        lowest = ranked[-1]
        # name the least important value only when it stands alone at the bottom
        alone = len(ranked) > 1 and known[lowest] < known[ranked[-2]] and known[lowest] < 0
        if top:
            least = f"; least about {VALUE_GLOSS[lowest]}" if alone else ""
            lines.append(f"Values: cares most about {_join(top)}{least}.")

    leanings = []
    for dim, (high, low) in HOFSTEDE_POLES.items():
        blended = profile.hofstede[dim]["blended"]
        if blended is not None and blended >= HOFSTEDE_HIGH:
            leanings.append(high)
        elif blended is not None and blended <= HOFSTEDE_LOW:
            leanings.append(low)
    if leanings:
        lines.append(f"Cultural outlook: {'; '.join(leanings)}.")

    beliefs = []
    ts = _wvs_value(profile, "traditional_secular")
    se = _wvs_value(profile, "survival_self_expression")
    if ts is not None and ts >= WVS_POLE:
        beliefs.append("secular-rational")
    elif ts is not None and ts <= -WVS_POLE:
        beliefs.append("traditional (faith, family and authority matter)")
    if se is not None and se >= WVS_POLE:
        beliefs.append("oriented to self-expression and tolerance")
    elif se is not None and se <= -WVS_POLE:
        beliefs.append("security-first (survival values)")
    if beliefs:
        lines.append(f"Beliefs: {'; '.join(beliefs)}.")

    interests = profile.answers.interests
    likes = []
    if interests.get("genres"):
        likes.append(_join(interests["genres"][:4]))
    if interests.get("themes"):
        likes.append("themes of " + _join(interests["themes"][:4]))
    if interests.get("moods"):
        likes.append(_join(interests["moods"][:3]) + " moods")
    if likes:
        lines.append(f"Likes: {'; '.join(likes)}.")
    if interests.get("avoid"):
        lines.append(f"Prefers to avoid: {_join(interests['avoid'])}.")
    return "\n".join(lines)


def _wvs_value(profile: Profile, axis: str) -> float | None:
    entry = profile.wvs[axis]
    return entry["person"] if entry["person"] is not None else entry["country"]


def _reader_line(profile: Profile) -> str:
    about = profile.answers.about
    details = []
    if about.get("age_band"):
        details.append(f"age {about['age_band']}")
    if about.get("reading_frequency"):
        details.append(f"reads {about['reading_frequency']}")
    if about.get("languages"):
        details.append("reads in " + _join(_language_names(list(about["languages"]))))
    suffix = f" ({'; '.join(details)})" if details else ""
    return f"Reader from {profile.country.name}{suffix}."
