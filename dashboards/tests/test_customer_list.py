"""The customer list: who may see it, its search, filters and orders, its CSV (the same rows as the
page), and one query for the rows however many there are."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from churn.models import ChurnRiskRun, ChurnRiskScore
from customers.models import Customer
from customers.tests.factories import CustomerFactory, SegmentFactory
from followup.models import Case
from followup.tests.factories import UserFactory, case_handler, cx_manager
from surveys.tests.factories import ResponseFactory, SurveyFactory

URL = reverse("dashboards-customer-list")
CSV_URL = reverse("dashboards-customer-list-csv")

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client):
    client.force_login(cx_manager())
    return client


@pytest.fixture
def base():
    """Four customers: Acme (Key, promoter 10, risk 0.40), Nova (Standard, detractor 3 after a 9, risk
    0.05), Vega (Key, passive 7, risk 0.20), Orbit (lost since the run scored them at 0.90, never answered
    NPS: no risk any more)."""
    key, standard = SegmentFactory(name="Key", rank=2), SegmentFactory(name="Standard", rank=1)
    now = timezone.now()
    acme = CustomerFactory(
        name="Acme Corp", external_id="AC-1", email="buyer@acme.test", value=Decimal("1000"), segment=key
    )
    nova = CustomerFactory(
        name="Nova", external_id="NV-2", email="x@nova.test", value=Decimal("5000"), segment=standard
    )
    vega = CustomerFactory(name="Vega", external_id="VG-3", email="hello@vega.test", value=Decimal("2000"), segment=key)
    orbit = CustomerFactory(name="Orbit", external_id="OR-4", email="o@orbit.test", value=Decimal("300"),
                            status=Customer.Status.LOST, lost_at=now)  # fmt: skip
    survey = SurveyFactory()
    for customer, nps, days_ago in [(acme, 10, 5), (nova, 9, 40), (nova, 3, 2), (vega, 7, 20)]:
        ResponseFactory(survey=survey, customer=customer, nps=nps, submitted_at=now - timedelta(days=days_ago))
    ResponseFactory(survey=survey, customer=orbit, nps=None, csat=2, submitted_at=now - timedelta(days=1))
    run = ChurnRiskRun.objects.create(status=ChurnRiskRun.Status.COMPLETE, finished_at=now, auc=0.8)
    top = [{"feature": "nps_latest", "value": 3.0, "contribution": 0.9}]
    for customer, p in [(acme, 0.40), (nova, 0.05), (vega, 0.20), (orbit, 0.90)]:
        ChurnRiskScore.objects.create(run=run, customer=customer, probability=p, value=customer.value,
                                      value_at_risk=float(customer.value) * p, top_features=top)  # fmt: skip
    return {"acme": acme, "nova": nova, "vega": vega, "orbit": orbit, "run": run}


def _ids(response) -> list[str]:
    """The customers' CRM ids in the page's order."""
    html = response.content.decode()
    rows = re.findall(r'<tr data-customer-id="\d+">.*?</tr>', html, re.S)
    return [re.search(r'<td class="d-none d-md-table-cell text-nowrap">([^<]*)</td>', r).group(1) for r in rows]


def _csv(client, query: str = "") -> list[dict]:
    response = client.get(f"{CSV_URL}?{query}")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


# --- who may see it ----------------------------------------------------------------------------------


def test_anonymous_users_go_to_the_login_page(client):
    assert client.get(URL).status_code == 302
    assert client.get(CSV_URL).status_code == 302


def test_other_users_are_refused(client):
    client.force_login(UserFactory(username="someone"))
    assert client.get(URL).status_code == 403
    assert client.get(CSV_URL).status_code == 403


def test_a_case_handler_sees_only_the_customers_of_their_cases(base, client):
    handler = case_handler()
    Case.objects.create(customer=base["vega"], owner=handler, created_at=timezone.now())
    Case.objects.create(customer=base["nova"], owner=cx_manager(), created_at=timezone.now())
    client.force_login(handler)
    response = client.get(URL)
    assert response.status_code == 200 and _ids(response) == ["VG-3"]
    assert [r["crm_id"] for r in _csv(client)] == ["VG-3"]
    assert "data-own-cases" in response.content.decode()


def test_the_list_is_in_the_navigation(base, manager_client):
    html = manager_client.get(reverse("dashboards-overview")).content.decode()
    assert f'href="{URL}' in html
    value_page = manager_client.get(reverse("dashboards-value")).content.decode()
    assert f'href="{URL}?sort=risk" data-customers-by-risk' in value_page


# --- the rows ----------------------------------------------------------------------------------------


def test_by_default_every_customer_largest_value_first_with_nps_risk_and_last_answer(base, manager_client):
    response = manager_client.get(URL)
    assert _ids(response) == ["NV-2", "VG-3", "AC-1", "OR-4"]
    html = response.content.decode()
    nova = re.search(rf'<tr data-customer-id="{base["nova"].pk}">.*?</tr>', html, re.S).group(0)
    assert f'href="{reverse("dashboards-customer", args=[base["nova"].pk])}"' in nova
    assert 'class="score-badge score-detractor"' in nova and ">3</span>" in nova  # the latest answer, not the 9
    assert "5.0\xa0%" in nova and "latest NPS" in nova
    orbit = re.search(rf'<tr data-customer-id="{base["orbit"].pk}">.*?</tr>', html, re.S).group(0)
    assert "data-risk-band" not in orbit and "90" not in orbit  # lost since it was scored: no risk, no NPS


def test_without_a_trained_model_risk_is_a_dash(base, manager_client):
    base["run"].delete()
    html = manager_client.get(URL).content.decode()
    assert "data-risk-band" not in html and "no trained model yet" in html
    assert all(r["churn_risk"] == "" for r in _csv(manager_client))
    # Sorted by risk with no risk to sort by: the ties' order alone, newest id first, page and CSV alike.
    for query in ("sort=risk", "sort=value_risk&order=asc"):
        page = _ids(manager_client.get(f"{URL}?{query}"))
        assert page == [r["crm_id"] for r in _csv(manager_client, query)] and len(page) == 4
    assert _ids(manager_client.get(f"{URL}?sort=risk")) == ["OR-4", "VG-3", "NV-2", "AC-1"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=acme", ["AC-1"]),  # the name, any case
        ("q=nv-", ["NV-2"]),  # the CRM id
        ("q=VEGA.TEST", ["VG-3"]),  # the email
        ("segment=Key", ["VG-3", "AC-1"]),
        ("category=promoter", ["AC-1"]),
        ("category=passive", ["VG-3"]),
        ("category=detractor", ["NV-2"]),
        ("category=no_response", ["OR-4"]),
        ("status=active", ["NV-2", "VG-3", "AC-1"]),
        ("status=lost", ["OR-4"]),
        ("risk=high", ["AC-1"]),  # 0.40 ≥ 0.30
        ("risk=medium", ["VG-3"]),  # 0.10 ≤ 0.20 < 0.30
        ("risk=low", ["NV-2"]),  # 0.05; the unscored lost customer is in no band
        ("segment=Key&risk=high", ["AC-1"]),
    ],
)
def test_search_and_filters(base, manager_client, query, expected):
    assert _ids(manager_client.get(f"{URL}?{query}")) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sort=value", ["NV-2", "VG-3", "AC-1", "OR-4"]),
        ("sort=value&order=asc", ["OR-4", "AC-1", "VG-3", "NV-2"]),
        ("sort=risk", ["AC-1", "VG-3", "NV-2", "OR-4"]),  # no risk last either way
        ("sort=risk&order=asc", ["NV-2", "VG-3", "AC-1", "OR-4"]),
        ("sort=value_risk", ["AC-1", "VG-3", "NV-2", "OR-4"]),  # 400, 400 (tie: newer id first), 250
        ("sort=nps", ["AC-1", "VG-3", "NV-2", "OR-4"]),
        ("sort=nps&order=asc", ["NV-2", "VG-3", "AC-1", "OR-4"]),
        ("sort=name", ["AC-1", "NV-2", "OR-4", "VG-3"]),
        ("sort=name&order=desc", ["VG-3", "OR-4", "NV-2", "AC-1"]),
    ],
)
def test_sort(base, manager_client, query, expected):
    if query == "sort=value_risk":  # Acme 1000 × 0.40 = 400 ties Vega 2000 × 0.20 = 400: the newer id first
        assert base["vega"].pk > base["acme"].pk
        expected = ["VG-3", "AC-1", "NV-2", "OR-4"]
    assert _ids(manager_client.get(f"{URL}?{query}")) == expected


def test_a_bad_parameter_is_an_error_not_a_silent_default(base, manager_client):
    response = manager_client.get(f"{URL}?sort=colour")
    assert response.status_code == 400 and "data-customer-list-errors" in response.content.decode()
    assert manager_client.get(f"{CSV_URL}?risk=extreme").status_code == 400


def test_pages_of_fifty(manager_client):
    CustomerFactory.create_batch(51, value=Decimal("10"))
    first = manager_client.get(URL)
    assert len(_ids(first)) == 50 and "data-next" in first.content.decode()
    second = manager_client.get(f"{URL}?page=2")
    assert len(_ids(second)) == 1 and "data-previous" in second.content.decode()
    # The pages follow the list's order (ties by id) end to end, as the CSV holds it.
    for query in ("", "sort=name", "sort=nps&order=asc"):
        pages = _ids(manager_client.get(f"{URL}?{query}")) + _ids(manager_client.get(f"{URL}?{query}&page=2"))
        assert pages == [r["crm_id"] for r in _csv(manager_client, query)] and len(set(pages)) == 51


@pytest.mark.parametrize("query", ["", "sort=risk", "segment=Key&sort=name&order=desc", "q=a&status=active"])
def test_the_csv_holds_the_page_rows(base, manager_client, query):
    rows = _csv(manager_client, query)
    assert [r["crm_id"] for r in rows] == _ids(manager_client.get(f"{URL}?{query}"))
    if not query:
        nova = next(r for r in rows if r["crm_id"] == "NV-2")
        assert nova == {
            "crm_id": "NV-2", "name": "Nova", "segment": "Standard", "status": "active", "value": "5000",
            "latest_nps": "3", "nps_category": "detractor", "churn_risk": "0.05", "value_at_risk": "250",
            "top_feature": "latest NPS", "last_answer_at": nova["last_answer_at"],
        }  # fmt: skip


def test_the_queries_do_not_grow_with_the_rows(base, manager_client):
    manager_client.get(URL)  # the session and the user, read once
    with CaptureQueriesContext(connection) as few:
        manager_client.get(f"{URL}?sort=risk")
    survey = SurveyFactory()
    for i in range(30):
        customer = CustomerFactory(value=Decimal(i))
        ResponseFactory(survey=survey, customer=customer, nps=i % 11)
        ChurnRiskScore.objects.create(run=base["run"], customer=customer, probability=0.1, value=customer.value,
                                      value_at_risk=0.1 * i, top_features=[])  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        response = manager_client.get(f"{URL}?sort=risk")
    assert len(_ids(response)) == 34
    assert len(many) == len(few)
