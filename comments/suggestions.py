"""Candidate themes from the comments that match no theme: per language, TF-IDF over stemmed words and
NMF into a few topics; each topic's top words and its most typical comments become a suggestion an
admin can accept into the taxonomy (``services.theme_suggestion_accept``)."""

from __future__ import annotations

import numpy as np
from django.db import transaction
from django.db.models import Exists, OuterRef
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import TfidfVectorizer

from .analysis import LANGUAGES, fold, lexicon, words
from .models import CommentAnalysis, CommentTheme, ThemeSuggestion

SAMPLE = 5000  # latest unmatched comments per language looked at
MIN_COMMENTS = 30  # fewer than this in a language: no suggestions for it
TOPICS = 6
TOP_TERMS = 8
EXAMPLES = 3
# Words too common in reviews to name a theme (beside each language's sentiment lexicon and negators).
_COMMON = {
    "en": [
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "is",
        "was",
        "are",
        "were",
        "it",
        "this",
        "that",
        "i",
        "we",
        "you",
        "they",
        "my",
        "our",
        "very",
    ],
    "es": [
        "el",
        "la",
        "los",
        "las",
        "un",
        "una",
        "y",
        "o",
        "pero",
        "de",
        "del",
        "en",
        "con",
        "por",
        "para",
        "es",
        "era",
        "fue",
        "muy",
        "que",
        "lo",
        "mi",
        "nos",
        "se",
    ],
    "pt": [
        "o",
        "a",
        "os",
        "as",
        "um",
        "uma",
        "e",
        "ou",
        "mas",
        "de",
        "do",
        "da",
        "em",
        "no",
        "na",
        "com",
        "por",
        "para",
        "foi",
        "muito",
        "que",
        "meu",
        "minha",
        "se",
    ],
    "fr": [
        "le",
        "la",
        "les",
        "un",
        "une",
        "et",
        "ou",
        "mais",
        "de",
        "du",
        "des",
        "en",
        "dans",
        "avec",
        "pour",
        "est",
        "était",
        "très",
        "que",
        "je",
        "nous",
        "il",
        "elle",
    ],
}


def _tokens(language: str):
    stop = {fold(w) for w in _COMMON[language]} | set(lexicon(language).negators)

    def tokenize(text: str) -> list[str]:
        return [w for w in (fold(x) for x in words(text)) if len(w) > 2 and w not in stop]

    return tokenize


def suggest(texts: list[str], language: str) -> list[dict]:
    """Topics of these comments: each with its top terms, example comments and size (comments it leads)."""
    if len(texts) < MIN_COMMENTS:
        return []
    vectorizer = TfidfVectorizer(tokenizer=_tokens(language), token_pattern=None, lowercase=False, min_df=3, max_df=0.5)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no word left in enough comments
        return []
    topics = min(TOPICS, matrix.shape[1], max(2, len(texts) // 20))  # about 20 comments a topic at least
    model = NMF(n_components=topics, init="nndsvda", random_state=0, max_iter=400)
    weights = model.fit_transform(matrix)
    vocabulary = np.array(vectorizer.get_feature_names_out())
    leading = weights.argmax(axis=1)
    found = []
    for topic in range(topics):
        members = np.flatnonzero((leading == topic) & (weights[:, topic] > 0))
        if len(members) < MIN_COMMENTS // 3:
            continue
        best = members[np.argsort(-weights[members, topic])][:EXAMPLES]
        terms = vocabulary[np.argsort(-model.components_[topic])][:TOP_TERMS]
        found.append({"top_terms": [str(t) for t in terms], "examples": [texts[i] for i in best], "size": len(members)})
    return found


def theme_suggestions_refresh() -> int:
    """Replace the open suggestions by fresh ones; accepted and dismissed ones stay as history."""
    unmatched = CommentAnalysis.objects.filter(~Exists(CommentTheme.objects.filter(analysis=OuterRef("pk"))))
    rows = []
    for language in LANGUAGES:
        texts = list(
            unmatched.filter(language=language)
            .order_by("-submitted_at")
            .values_list("response__comment", flat=True)[:SAMPLE]
        )
        rows += [ThemeSuggestion(language=language, **found) for found in suggest(texts, language)]
    with transaction.atomic():
        ThemeSuggestion.objects.filter(status=ThemeSuggestion.Status.OPEN).delete()
        ThemeSuggestion.objects.bulk_create(rows)
    return len(rows)
