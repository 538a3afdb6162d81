"""What comments holds of a customer's personal data: the words of their comments that matched a theme
(kept for highlighting) and their comments quoted as examples of a suggested theme (see
``customers.privacy``). Erasure drops both and keeps each comment's language, themes and sentiment, so
no figure moves. It runs before surveys blanks the comments, while their text can still be recognised
among the examples."""

from __future__ import annotations

from customers.privacy import Subject
from surveys.models import Response

from .models import CommentTheme, ThemeSuggestion


def erase(*, subjects: list[Subject]) -> dict[str, int]:
    ids = [s.customer_id for s in subjects]
    words = CommentTheme.objects.filter(analysis__response__customer_id__in=ids).exclude(matched=[])
    erased = words.update(matched=[])
    texts = set(Response.objects.filter(customer_id__in=ids).exclude(comment="").values_list("comment", flat=True))
    quoted = 0
    if texts:
        for suggestion in ThemeSuggestion.objects.only("pk", "examples"):  # a few dozen at most
            kept = [text for text in suggestion.examples if text not in texts]
            if len(kept) != len(suggestion.examples):
                quoted += len(suggestion.examples) - len(kept)
                ThemeSuggestion.objects.filter(pk=suggestion.pk).update(examples=kept)
    return {"matched_words": erased, "suggestion_examples": quoted}


def export(*, subject: Subject) -> dict[str, list]:
    # The comments themselves are in the surveys part of the export; their analysis is derived from them.
    return {}
