"""The responses and customer JSON APIs: authentication, access, parameter errors, the documents,
cursor pages without gaps or repeats, ambiguous CRM ids and bounded queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import ApiToken
from crm_sync.tests.factories import ConnectionFactory
from customers.models import Event
from cxmetrics.tests.factories import UserFactory, cx_manager
from metrics.tests.factories import CustomerFactory, ResponseFactory, SegmentFactory, SurveyFactory, at, event

pytestmark = pytest.mark.django_db

RESPONSES = "/api/v1/responses/"
JANUARY = {"start": "2026-01-01", "end": "2026-01-31"}


def bearer(user) -> dict:
    _, raw = ApiToken.issue(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def auth():
    return bearer(cx_manager())


@pytest.fixture
def data():
    gold = SegmentFactory(name="Gold", rank=3)
    crm = ConnectionFactory(name="hubspot")
    survey = SurveyFactory(slug="rel", title_en="Relationship", touchpoint="relationship")
    a = CustomerFactory(
        name="Alpha Ltd",
        email="ops@alpha.example",
        external_id="CRM-A",
        connection=crm,
        segment=gold,
        value=Decimal("1200.50"),
        acquired_at=at("2025-03-01"),
    )
    erased = CustomerFactory(name="", email="", external_id="CRM-E", connection=crm, erased_at=timezone.now())
    r1 = ResponseFactory(survey=survey, customer=a, submitted_at=at("2026-01-03"), nps=10, csat=5, comment="Great")
    r2 = ResponseFactory(survey=survey, customer=erased, submitted_at=at("2026-01-05"), nps=2, comment="Bad")
    r3 = ResponseFactory(survey=survey, customer=None, segment=None, submitted_at=at("2026-01-07"), nps=7)
    event(Event.Type.NEW, a, at("2025-03-01"), value=Decimal("1000"))
    event(Event.Type.REFERRAL, erased, at("2025-05-01"), referrer=a)
    return {"a": a, "erased": erased, "r1": r1, "r2": r2, "r3": r3}


@pytest.mark.parametrize("url", [RESPONSES, "/api/v1/customers/CRM-A/"])
def test_401_without_credentials_and_403_for_a_non_manager(client, data, url):
    response = client.get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"].startswith("Authentication required")
    response = client.get(url, **bearer(UserFactory(username="agent")))
    assert response.status_code == 403
    assert response.json()["error"].startswith("Only CX managers may read")


@pytest.mark.parametrize("url", [RESPONSES, "/api/v1/customers/CRM-A/"])
def test_only_get_is_served(client, data, auth, url):
    response = client.post(url, **auth)
    assert response.status_code == 405 and response["Allow"] == "GET"


def test_responses_document(client, data, auth):
    response = client.get(RESPONSES, JANUARY, **auth)
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"start": "2026-01-01", "end": "2026-01-31"}
    assert body["next"] is None
    assert [r["id"] for r in body["results"]] == [data["r3"].pk, data["r2"].pk, data["r1"].pk]
    first = body["results"][2]
    assert first == {
        "id": data["r1"].pk,
        "submitted_at": data["r1"].submitted_at.isoformat(),
        "survey": "rel",
        "survey_title": "Relationship",
        "survey_type": "relational",
        "touchpoint": "relationship",
        "audience": "b2b",
        "channel": "email",
        "language": "en",
        "segment": "Gold",
        "nps": 10,
        "csat": 5,
        "ces": None,
        "comment": "Great",
        "customer": {"crm_id": "CRM-A", "connection": "hubspot", "name": "Alpha Ltd", "personal_data_erased": False},
    }
    assert body["results"][1]["customer"] == {
        "crm_id": "CRM-E",
        "connection": "hubspot",
        "name": None,
        "personal_data_erased": True,
    }
    assert body["results"][0]["customer"] is None


def test_responses_filters(client, data, auth):
    def ids(params):
        return [r["id"] for r in client.get(RESPONSES, {**JANUARY, **params}, **auth).json()["results"]]

    assert ids({"category": "detractor"}) == [data["r2"].pk]
    assert ids({"segment": "Gold"}) == [data["r1"].pk]
    assert ids({"nps_min": "5", "has_comment": "no"}) == [data["r3"].pk]
    assert ids({"q": "great"}) == [data["r1"].pk]


def test_responses_400_lists_every_bad_parameter(client, data, auth):
    response = client.get(RESPONSES, {"start": "2026-02-30", "end": "2026-01-31", "nps_min": "12"}, **auth)
    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith("Bad parameters: ")
    assert set(body["fields"]) == {"start", "nps_min"}
    response = client.get(RESPONSES, {"cursor": "garbage"}, **auth)
    assert response.status_code == 400
    assert response.json()["fields"] == {"cursor": ["This page link is not valid; start again from the first page."]}


def test_cursor_pages_follow_next_without_gaps_or_repeats(client, auth, django_assert_max_num_queries):
    customer = CustomerFactory()
    survey = SurveyFactory(slug="rel")
    start = at("2026-01-02")
    made = [
        ResponseFactory(survey=survey, customer=customer, submitted_at=start + timedelta(minutes=i // 4), nps=i % 11)
        for i in range(111)
    ]
    expected = [r.pk for r in sorted(made, key=lambda r: (r.submitted_at, r.pk), reverse=True)]
    seen, url, params, pages = [], RESPONSES, JANUARY, 0
    while url:
        with django_assert_max_num_queries(8):
            body = client.get(url, params, **auth).json()
        seen += [r["id"] for r in body["results"]]
        url, params, pages = body["next"], None, pages + 1
        if url:
            assert url.startswith("http://testserver/api/v1/responses/?") and "start=2026-01-01" in url
    assert pages == 3
    assert seen == expected


def test_customer_document(client, data, auth, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        response = client.get("/api/v1/customers/CRM-A/", **auth)
    assert response.status_code == 200
    body = response.json()
    assert body["customer"] == {
        "crm_id": "CRM-A",
        "connection": "hubspot",
        "name": "Alpha Ltd",
        "personal_data_erased": False,
        "email": "ops@alpha.example",
        "segment": "Gold",
        "status": "active",
        "audience": "b2b",
        "value": 1200.5,
        "acquired_at": data["a"].acquired_at.isoformat(),
        "lost_at": None,
        "lost_reason": "",
        "referred_by": None,
    }
    assert [r["id"] for r in body["responses"]] == [data["r1"].pk]
    assert "customer" not in body["responses"][0]
    assert [(e["type"], e["value"]) for e in body["events"]] == [("new", 1000.0)]
    assert body["referrals_made"] == [{"occurred_at": at("2025-05-01").isoformat(), "crm_id": "CRM-E"}]


def test_an_erased_customer_has_no_name_or_email(client, data, auth):
    body = client.get("/api/v1/customers/CRM-E/", **auth).json()
    assert body["customer"]["name"] is None and body["customer"]["email"] is None
    assert body["customer"]["personal_data_erased"] is True
    assert [r["comment"] for r in body["responses"]] == ["Bad"]


def test_unknown_customer_404_and_ambiguous_id_409(client, data, auth):
    response = client.get("/api/v1/customers/NOPE/", **auth)
    assert response.status_code == 404
    assert response.json() == {"error": "No customer with CRM id 'NOPE'."}
    CustomerFactory(external_id="CRM-A", connection=ConnectionFactory(name="csv-erp"))
    response = client.get("/api/v1/customers/CRM-A/", **auth)
    assert response.status_code == 409
    assert response.json()["connections"] == ["csv-erp", "hubspot"]
    assert "?connection=" in response.json()["error"]
    response = client.get("/api/v1/customers/CRM-A/", {"connection": "hubspot"}, **auth)
    assert response.status_code == 200 and response.json()["customer"]["name"] == "Alpha Ltd"
    response = client.get("/api/v1/customers/CRM-A/", {"connection": "salesforce"}, **auth)
    assert response.status_code == 404
    assert response.json() == {"error": "No customer with CRM id 'CRM-A' in connection 'salesforce'."}
