"""Tidying a generated description before it is stored."""

from __future__ import annotations

import re


def clean_text(text: str, finish_reason: str) -> str:
    """Trim the model's wrapping: quotes, a leading label, a sentence cut off by max_tokens."""
    text = text.strip().strip('"').strip()
    text = re.sub(r"^(description|here is[^:]*|sure[^:]*):\s*", "", text, flags=re.IGNORECASE)
    if finish_reason == "length":
        last = max(text.rfind("."), text.rfind("!"), text.rfind("?"))
        if last > 0:
            text = text[: last + 1]
    return " ".join(text.split())
