"""A comment as HTML with the words that matched a theme marked."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def highlighted(comment: str, words: Iterable[str]) -> SafeString:
    """``comment`` escaped, each whole occurrence of ``words`` (as written) wrapped in <mark>."""
    chosen = sorted({w for w in words if w}, key=len, reverse=True)
    if not chosen:
        return escape(comment)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in chosen) + r")(?!\w)")
    parts = pattern.split(comment)
    # split() with one group: text, match, text, match, …
    return mark_safe("".join(f"<mark>{escape(part)}</mark>" if i % 2 else escape(part) for i, part in enumerate(parts)))
