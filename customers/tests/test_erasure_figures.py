"""Erasing customers changes no past figure: the dashboard's metrics document and every rolled-up fact
are the same after as before (only the names and CRM ids in its lists are gone)."""

from __future__ import annotations

import pytest

from customers.models import Customer
from customers.services import customers_erase
from metrics.document import metrics_document
from metrics.tests.test_read_model import all_filters
from metrics.tests.test_write_paths import assert_every_fact_exact, rolled_up  # noqa: F401 (a fixture)
from surveys.models import Response
from surveys.services import ERASED_TEXT

pytestmark = [pytest.mark.django_db, pytest.mark.refreshes_itself]

NAMING = {"name", "customer_id", "crm_id"}


def figures(document):
    """The document without what names a customer."""
    if isinstance(document, dict):
        return {k: figures(v) for k, v in document.items() if k not in NAMING}
    if isinstance(document, list):
        return [figures(v) for v in document]
    return document


def test_erasing_customers_changes_no_past_figure(rolled_up):  # noqa: F811
    commented = Response.objects.exclude(comment="").exclude(customer=None).values_list("customer_id", flat=True)
    chosen = sorted(set(commented))[:8]
    assert len(chosen) >= 5
    before = [figures(metrics_document(f)) for f in all_filters()]

    result = customers_erase(customers=Customer.objects.filter(pk__in=chosen))

    assert result.customers == len(chosen) and result.responses > 0
    assert not Response.objects.filter(customer__in=chosen).exclude(comment__in=["", ERASED_TEXT]).exists()
    assert [figures(metrics_document(f)) for f in all_filters()] == before
    assert_every_fact_exact("after erasure")
