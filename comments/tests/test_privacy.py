"""Erasing a customer drops the words of their comments kept for highlighting and their comments quoted
as suggestion examples; their comments' themes and sentiment stay, so no figure moves."""

import pytest

from comments.models import CommentAnalysis, CommentTheme, ThemeSuggestion
from comments.services import comments_analyse
from customers.models import Customer
from customers.services import customers_erase
from metrics.tests.factories import CustomerFactory, ResponseFactory

pytestmark = pytest.mark.django_db


def test_erasure_drops_matched_words_and_quoted_examples_but_keeps_themes_and_sentiment():
    customer, other = CustomerFactory(), CustomerFactory()
    mine = ResponseFactory(customer=customer, nps=2, comment="The delivery was late again")
    theirs = ResponseFactory(customer=other, nps=3, comment="Late delivery, twice")
    comments_analyse(response_ids=[mine.pk, theirs.pk])
    assert CommentTheme.objects.filter(analysis__response=mine).exclude(matched=[]).exists()
    themes_before = list(CommentTheme.objects.order_by("pk").values_list("analysis__response", "theme"))
    ThemeSuggestion.objects.create(language="en", top_terms=["late"], examples=[mine.comment, theirs.comment], size=2)

    result = customers_erase(customers=Customer.objects.filter(pk=customer.pk))

    assert result.elsewhere["matched_words"] >= 1 and result.elsewhere["suggestion_examples"] == 1
    assert not CommentTheme.objects.filter(analysis__response=mine).exclude(matched=[]).exists()
    assert CommentTheme.objects.filter(analysis__response=theirs).exclude(matched=[]).exists()
    assert ThemeSuggestion.objects.get().examples == [theirs.comment]
    assert list(CommentTheme.objects.order_by("pk").values_list("analysis__response", "theme")) == themes_before
    assert CommentAnalysis.objects.get(response=mine).sentiment == "negative"
