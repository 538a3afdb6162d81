"""What comments holds of a customer's personal data: the words of their comments and complaint summaries
that matched a theme (kept for highlighting) and their comments quoted as examples of a suggested theme
(see ``customers.privacy``). Erasure drops them and keeps each analysis's language, themes and sentiment,
so no figure moves. It runs before surveys blanks the comments, while their text can still be recognised
among the examples."""

from __future__ import annotations

from customers.privacy import Subject
from surveys.models import Response

from .models import CommentTheme, ComplaintTheme, ThemeSuggestion


def erase(*, subjects: list[Subject]) -> dict[str, int]:
    ids = [s.customer_id for s in subjects]
    words = CommentTheme.objects.filter(analysis__response__customer_id__in=ids).exclude(matched=[])
    erased = words.update(matched=[])
    summary_words = ComplaintTheme.objects.filter(analysis__complaint__customer_id__in=ids).exclude(matched=[])
    erased_summary_words = summary_words.update(matched=[])
    texts = set(Response.objects.filter(customer_id__in=ids).exclude(comment="").values_list("comment", flat=True))
    quoted = 0
    if texts:
        for suggestion in ThemeSuggestion.objects.only("pk", "examples"):  # a few dozen at most
            kept = [text for text in suggestion.examples if text not in texts]
            if len(kept) != len(suggestion.examples):
                quoted += len(suggestion.examples) - len(kept)
                ThemeSuggestion.objects.filter(pk=suggestion.pk).update(examples=kept)
    return {"matched_words": erased, "complaint_matched_words": erased_summary_words, "suggestion_examples": quoted}


def export(*, subject: Subject) -> dict[str, list]:
    # The comments and complaint summaries themselves are in the surveys and complaints parts of the
    # export; their analyses are derived from them.
    return {}
