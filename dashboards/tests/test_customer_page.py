"""The customer page: who they are, their scores over time, every response and CRM event, erased
customers, access, a bounded number of queries, and the dashboard tables that link to it."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import plotly.graph_objects as go
import pytest
from django.urls import reverse
from django.utils import timezone

from complaints.tests.factories import complaint
from crm_sync.tests.factories import ConnectionFactory
from customers.models import Customer, Event
from cxmetrics.tests.factories import UserFactory, cx_manager
from metrics.tests.factories import CustomerFactory, ResponseFactory, SegmentFactory, SurveyFactory, at, event

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client):
    client.force_login(cx_manager())
    return client


@pytest.fixture
def story():
    gold, silver = SegmentFactory(name="Gold", rank=3), SegmentFactory(name="Silver", rank=2)
    referrer = CustomerFactory(name="Referrer Co", external_id="CRM-R", segment=gold)
    customer = CustomerFactory(
        name="Alpha Ltd",
        email="ops@alpha.example",
        external_id="CRM-A",
        segment=silver,
        value=Decimal("12000"),
        status=Customer.Status.LOST,
        acquired_at=at("2025-03-01"),
        lost_at=at("2026-02-01"),
        lost_reason="price",
        referred_by=referrer,
    )
    survey = SurveyFactory(slug="rel", title_en="Relationship", title_es="Relación")
    ResponseFactory(survey=survey, customer=customer, submitted_at=at("2025-06-01"), nps=9, csat=5, comment="Love it")
    ResponseFactory(survey=survey, customer=customer, submitted_at=at("2026-01-10"), nps=3, ces=2, comment="Too dear")
    ResponseFactory(survey=survey, customer=referrer, submitted_at=at("2026-01-11"), nps=10, comment="Not theirs")
    event(Event.Type.REFERRAL, customer, at("2025-02-20"), referrer=referrer, segment=gold)
    event(Event.Type.NEW, customer, at("2025-03-01"), value=Decimal("10000"), segment=gold)
    event(Event.Type.SEGMENT_MOVE, customer, at("2025-09-01"), from_segment=gold, to_segment=silver, segment=silver)
    event(Event.Type.LOST, customer, at("2026-02-01"), value=Decimal("12000"), reason="price")
    return {"customer": customer, "referrer": referrer}


def test_the_page_shows_the_customer_their_responses_events_and_chart(manager_client, story):
    response = manager_client.get(reverse("dashboards-customer", args=[story["customer"].pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Alpha Ltd" in html and "CRM-A" in html and "ops@alpha.example" in html
    assert "Silver" in html and "lost" in html and "price" in html
    assert html.index("Too dear") < html.index("Love it")  # newest first
    assert "Not theirs" not in html
    assert "Relationship" in html
    assert all(label in html for label in ("segment move", "new customer", "referral", "Gold → Silver"))
    assert f'href="{reverse("dashboards-customer", args=[story["referrer"].pk])}"' in html
    figure = json.loads(
        re.search(
            r'<script id="chart-customer_scores-figure" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    go.Figure(figure)  # a valid plotly figure
    by_name = {trace["name"]: trace["y"] for trace in figure["data"]}
    assert by_name == {"NPS (0-10)": [9, 3], "CSAT (1-5)": [5], "CES (1-7)": [2]}
    value = json.loads(
        re.search(r'<script id="chart-customer_value-figure" type="application/json">(.*?)</script>', html, re.S).group(
            1
        )
    )
    go.Figure(value)
    assert value["data"][0]["y"] == [10000.0, 12000.0]  # the new and lost events' values (a lost customer: no "today")
    assert value["data"][0]["customdata"] == ["€10,000", "€12,000"]
    low, high = figure["layout"]["xaxis"]["range"]
    assert low.startswith("2025-05-17") and high.startswith("2026-01-25")  # a fortnight either side


def test_an_erased_customer_shows_no_name_or_email(manager_client, story):
    erased = CustomerFactory(name="", email="", external_id="CRM-E", erased_at=timezone.now())
    html = manager_client.get(reverse("dashboards-customer", args=[erased.pk])).content.decode()
    assert "personal data erased" in html
    assert "CRM-E" in html


def test_unknown_customer_is_404_and_access_is_for_managers(client, story):
    url = reverse("dashboards-customer", args=[story["customer"].pk])
    assert client.get(url).status_code == 302
    client.force_login(UserFactory(username="agent"))
    assert client.get(url).status_code == 403
    client.force_login(cx_manager())
    assert client.get(reverse("dashboards-customer", args=[999999])).status_code == 404


def test_the_page_runs_a_bounded_number_of_queries(manager_client, story, django_assert_max_num_queries):
    for day in range(1, 29):
        ResponseFactory(customer=story["customer"], submitted_at=at(f"2025-11-{day:02d}"), nps=day % 11)
    # The customer's complaints are one query.
    with django_assert_max_num_queries(11):
        response = manager_client.get(reverse("dashboards-customer", args=[story["customer"].pk]))
    assert response.status_code == 200


def test_crm_id_link_redirects_or_lists_the_connections(manager_client, story):
    url = reverse("dashboards-customer-crm", args=["CRM-A"])
    response = manager_client.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboards-customer", args=[story["customer"].pk])
    other = CustomerFactory(name="Alpha in HubSpot", external_id="CRM-A", connection=ConnectionFactory(name="hubspot"))
    response = manager_client.get(url)
    assert response.status_code == 200
    assert "Alpha in HubSpot" in response.content.decode() and "hubspot" in response.content.decode()
    response = manager_client.get(url, {"connection": "hubspot"})
    assert response["Location"] == reverse("dashboards-customer", args=[other.pk])
    assert manager_client.get(reverse("dashboards-customer-crm", args=["nobody"])).status_code == 404


def test_dashboard_tables_link_customers_to_their_page(manager_client, story):
    html = manager_client.get(
        reverse("dashboards-customers"), {"start": "2026-01-01", "end": "2026-02-28"}
    ).content.decode()
    lost_table = html[html.index('data-table="lost_customers"') :]
    assert f'href="{reverse("dashboards-customer-crm", args=["CRM-A"])}" data-customer-link>Alpha Ltd</a>' in lost_table


def test_value_over_time_ends_with_todays_value_for_an_active_customer(manager_client, db):
    customer = CustomerFactory(name="Growing", value=Decimal("800"), acquired_at=at("2025-01-10"))
    event(Event.Type.NEW, customer, at("2025-01-10"), value=Decimal("500"))
    html = manager_client.get(reverse("dashboards-customer", args=[customer.pk])).content.decode()
    found = re.search(r'<script id="chart-customer_value-figure" type="application/json">(.*?)</script>', html, re.S)
    assert json.loads(found.group(1))["data"][0]["y"] == [500.0, 800.0]
    lone = CustomerFactory(name="Unchanged", value=Decimal("800"))
    html = manager_client.get(reverse("dashboards-customer", args=[lone.pk])).content.decode()
    assert "chart-customer_value-figure" not in html  # no event with a value: the value on the page says it all


def test_a_customer_without_answers_says_so_instead_of_no_data_for_filters(manager_client):
    quiet = CustomerFactory(name="Quiet Ltd")
    html = manager_client.get(reverse("dashboards-customer", args=[quiet.pk])).content.decode()
    assert "No answers from this customer yet." in html
    assert "No data for these filters" not in html


def test_the_page_lists_the_customers_complaints_with_a_way_to_open_a_case(manager_client, story):
    customer = story["customer"]
    logged = complaint(at("2026-01-05"), customer=customer, category_name="billing", summary="Charged twice")
    complaint(at("2026-01-06"), customer=CustomerFactory(), summary="Someone else's")
    html = manager_client.get(reverse("dashboards-customer", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="es").content
    html = html.decode()
    assert "Charged twice" in html and "facturación" in html and "Someone else" not in html
    assert f"?complaint={logged.pk}" in html
