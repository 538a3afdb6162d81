"""The dashboards benchmark phase visits every dashboard page and the single-answer and customer pages."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from customers.tests.factories import CustomerFactory, SegmentFactory
from followup.models import Case
from surveys.tests.factories import ResponseFactory, relational_survey

pytestmark = pytest.mark.django_db


def test_every_dashboard_page_and_the_busiest_customer_are_measured():
    survey = relational_survey(slug="busy")
    key = SegmentFactory(name="Key", rank=4)  # the segment the bench filters on
    busiest, other = CustomerFactory(external_id="B-1", segment=key), CustomerFactory(external_id="O-1")
    ResponseFactory.create_batch(3, survey=survey, customer=busiest, nps=9)
    ResponseFactory(survey=survey, customer=other, nps=3)
    out = StringIO()
    call_command("bench_dashboards", "--repeats", "1", "--warmup", "0", "--cases", "30", stdout=out)
    report = json.loads(out.getvalue())
    assert {r["page"] for r in report["pages"]} == {
        "overview", "surveys", "customers", "combined", "value", "comments", "follow_up", "api"
    }  # fmt: skip
    records = {r["page"]: r for r in report["records"]}
    assert {
        "explorer, first page",
        "explorer, text search without a match",
        "customer page (most answers)",
        "customer API (most answers)",
        "customer list, by value",
        "customer list, by churn risk",
        "customer list, detractors at high risk",
        "customer list, name search",
        "cases all by due",
        "cases overdue by -value",
        "case page",
        "cases API",
    } <= set(records)
    assert all(r["median_ms"] > 0 for r in records.values())
    assert Case.objects.count() == 30
