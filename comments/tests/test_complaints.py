"""Complaint summaries are analysed like comments (language, themes with the matched words, sentiment from
the text alone), followed by their own sweep, re-analysed by the command, and erased with the customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from comments.models import ComplaintAnalysis, ComplaintTheme, Theme
from comments.services import EDIT_LOOKBACK, complaints_analyse, complaints_analyse_pending, theme_term_add
from comments.tasks import comments_catch_up_task, complaints_sweep_task
from complaints.models import Complaint
from complaints.services import complaint_update
from complaints.tests.factories import complaint
from customers.models import Customer
from customers.services import customers_erase
from metrics.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 2, 10, tzinfo=UTC)


def test_sweep_analyses_new_complaints_once_from_the_text():
    late = complaint(AT, summary="Las entregas llegaron muy atrasadas, pésimo servicio.")
    complaint(AT, summary="")  # nothing to analyse

    assert complaints_sweep_task() == 1
    analysis = ComplaintAnalysis.objects.get(complaint=late)
    assert (analysis.language, analysis.sentiment) == ("es", "negative")
    link = ComplaintTheme.objects.get(analysis=analysis, theme__name="Delivery")
    assert "entregas" in [w.lower() for w in link.matched]

    praise = complaint(AT, kind="inquiry", summary="Great staff, very helpful and friendly")
    assert complaints_analyse_pending() == 1
    assert complaints_analyse_pending() == 0
    assert ComplaintAnalysis.objects.get(complaint=praise).sentiment == "positive"
    assert ComplaintAnalysis.objects.count() == 2


def test_an_edited_summary_is_analysed_again_by_the_sweep_and_the_catch_up(settings):
    row = complaint(AT, summary="Charged twice on the invoice")
    untouched = complaint(AT, summary="The courier was late")
    assert complaints_analyse_pending() == 2
    first = ComplaintAnalysis.objects.get(complaint=row)

    complaint_update(complaint=row, summary="Nobody answered my emails or calls")
    complaint_update(complaint=untouched, channel=Complaint.Channel.PHONE)  # the text stays: no new analysis
    assert untouched.summary_edited_at is None

    assert complaints_sweep_task() == 1
    assert complaints_analyse_pending() == 0
    analysis = ComplaintAnalysis.objects.get(complaint=row)
    assert analysis.pk != first.pk and analysis.analysed_at >= row.summary_edited_at
    assert set(analysis.theme_links.values_list("theme__name", flat=True)) == {"Communication"}

    # An edit older than the sweep looks back is left to the nightly catch-up.
    complaint_update(complaint=row, summary="Charged twice on the invoice")
    Complaint.objects.filter(pk=row.pk).update(summary_edited_at=timezone.now() - EDIT_LOOKBACK - timedelta(hours=1))
    ComplaintAnalysis.objects.filter(complaint=row).update(analysed_at=timezone.now() - EDIT_LOOKBACK * 2)
    assert complaints_analyse_pending() == 0
    assert comments_catch_up_task() == 1
    assert ComplaintAnalysis.objects.get(complaint=row).theme_links.get().theme.name == "Price and billing"
    assert ComplaintAnalysis.objects.count() == 2


def test_command_reanalyses_complaints_with_the_new_taxonomy():
    row = complaint(AT, summary="The courier lost my parcel")
    complaints_analyse(complaint_ids=[row.pk])
    version = ComplaintAnalysis.objects.get().taxonomy_version
    theme_term_add(theme=Theme.objects.get(name="Support and service"), language="en", term="lost my parcel")

    call_command("comments_analyse", "--all")

    analysis = ComplaintAnalysis.objects.get()
    assert analysis.taxonomy_version == version + 1
    assert {"Delivery", "Support and service"} <= set(analysis.theme_links.values_list("theme__name", flat=True))


def test_missing_command_analyses_complaints_without_an_analysis():
    complaint(AT, summary="Charged twice on the invoice")
    call_command("comments_analyse", "--missing")
    assert ComplaintAnalysis.objects.get().theme_links.filter(theme__name="Price and billing").exists()


def test_erasure_drops_the_matched_words_of_complaints_and_keeps_themes_and_sentiment():
    customer, other = CustomerFactory(), CustomerFactory()
    mine = complaint(AT, customer=customer, summary="The delivery was late again, terrible")
    theirs = complaint(AT, customer=other, summary="Late delivery, twice")
    complaints_analyse(complaint_ids=[mine.pk, theirs.pk])

    result = customers_erase(customers=Customer.objects.filter(pk=customer.pk))

    assert result.elsewhere["complaint_matched_words"] == 1
    assert ComplaintTheme.objects.get(analysis__complaint=mine, theme__name="Delivery").matched == []
    assert ComplaintTheme.objects.get(analysis__complaint=theirs, theme__name="Delivery").matched != []
    assert ComplaintAnalysis.objects.get(complaint=mine).sentiment == "negative"
    # The blanked summary is not re-analysed: the themes stay, so no figure moves.
    call_command("comments_analyse", "--all")
    assert ComplaintTheme.objects.filter(analysis__complaint=mine, theme__name="Delivery").exists()
