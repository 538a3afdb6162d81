"""The metrics JSON API: authentication, access, parameter errors and the document."""

from __future__ import annotations

from datetime import date

import pytest

from core.models import ApiToken
from cxmetrics.tests.factories import UserFactory, cx_manager
from metrics.document import metrics_document
from metrics.filters import MetricFilters
from metrics.tests.factories import small_dataset

pytestmark = pytest.mark.django_db

URL = "/api/v1/metrics/"
JANUARY = {"start": "2026-01-01", "end": "2026-01-31"}


def bearer(user) -> dict:
    _, raw = ApiToken.issue(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_401_without_credentials(client):
    response = client.get(URL, JANUARY)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "error" in response.json()


def test_401_with_an_unknown_token(client):
    response = client.get(URL, JANUARY, HTTP_AUTHORIZATION="Bearer cxm_not-a-token")
    assert response.status_code == 401


def test_403_for_a_signed_in_user_who_is_not_a_cx_manager(client):
    client.force_login(UserFactory(username="agent"))
    response = client.get(URL, JANUARY)
    assert response.status_code == 403
    assert response.json() == {"error": "Only CX managers may read the metrics."}


def test_403_for_a_token_of_a_non_manager(client):
    response = client.get(URL, JANUARY, **bearer(UserFactory(username="agent")))
    assert response.status_code == 403


def test_400_lists_bad_parameters(client):
    response = client.get(URL, {"start": "2026-02-30", "end": "2026-01-31", "segment": "Nope"}, **bearer(cx_manager()))
    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith("Bad parameters: ")
    assert "start: Enter a date as YYYY-MM-DD." in body["error"]
    assert set(body["fields"]) == {"start", "segment"}


def test_400_end_before_start(client):
    response = client.get(URL, {"start": "2026-02-01", "end": "2026-01-31"}, **bearer(cx_manager()))
    assert response.status_code == 400
    assert "before the start date" in response.json()["error"]


def test_405_for_post(client):
    client.force_login(cx_manager())
    assert client.post(URL, JANUARY).status_code == 405


def test_document_with_a_token(client):
    small_dataset()
    response = client.get(URL, JANUARY, **bearer(cx_manager()))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    expected = metrics_document(MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31)))
    assert response.json() == expected
    assert response.json()["customers"]["at_start"] == 2


def test_document_with_a_session_and_filters(client):
    data = small_dataset()
    client.force_login(cx_manager())
    response = client.get(URL, {**JANUARY, "segment": "Gold", "survey": "relationship", "audience": "b2b"})
    assert response.status_code == 200
    expected = metrics_document(
        MetricFilters(
            start=date(2026, 1, 1),
            end=date(2026, 1, 31),
            segment=data["gold"].pk,
            survey="relationship",
            audience="b2b",
        )
    )
    assert response.json() == expected
