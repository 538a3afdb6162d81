"""Theme suggestions from the comments that match no theme, and accepting one into the taxonomy."""

from __future__ import annotations

import pytest

from comments.models import CommentAnalysis, Theme, ThemeSuggestion
from comments.selectors import theme_matcher
from comments.services import comments_catch_up, theme_suggestion_accept
from comments.suggestions import suggest, theme_suggestions_refresh
from surveys.tests.factories import ResponseFactory

pytestmark = pytest.mark.django_db

PARKING = ["The parking lot was full again", "No parking spaces near the store", "Parking is impossible downtown"]
GARDEN = ["The garden center plants were dying", "Garden plants looked sad and dry", "Bought plants for the garden"]


def test_clusters_group_comments_by_their_words():
    texts = [PARKING[i % 3] + f" today {i}" for i in range(30)] + [GARDEN[i % 3] + f" again {i}" for i in range(30)]
    found = suggest(texts, "en")
    tops = [set(s["top_terms"][:3]) for s in found]
    assert any("parking" in t for t in tops) and any("garden" in t or "plants" in t for t in tops)
    for s in found:
        assert s["size"] >= 10 and len(s["examples"]) == 3


def test_too_few_comments_give_no_suggestion():
    assert suggest(PARKING, "en") == []


def test_refresh_stores_suggestions_and_accepting_one_makes_a_matching_theme():
    for i in range(40):
        text = PARKING[i % 3] if i % 2 else GARDEN[i % 3]
        ResponseFactory(comment=f"{text}, visit {i}.", nps=5, language="en")
    comments_catch_up()
    assert CommentAnalysis.objects.count() == 40
    assert theme_suggestions_refresh() >= 1
    suggestion = next(s for s in ThemeSuggestion.objects.filter(status="open") if "parking" in s.top_terms[:3])

    theme = theme_suggestion_accept(suggestion=suggestion, name="Parking", name_es="Aparcamiento", terms=1)

    suggestion.refresh_from_db()
    assert suggestion.status == "accepted" and suggestion.theme == theme
    assert theme_matcher().match("Parkings are too small", "en") == {theme.pk: ("Parkings",)}
    assert Theme.objects.get(name="Parking").terms.count() == 1
