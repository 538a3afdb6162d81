"""Dates far off in the filters: every consumer answers 400 with the message, never a 500, and the
widest period allowed (with its year-ago comparison) still renders."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import ApiToken
from cxmetrics.tests.factories import cx_manager
from metrics.tests.factories import small_dataset

pytestmark = pytest.mark.django_db

PAGES = ["dashboards-overview", "dashboards-surveys", "dashboards-customers", "dashboards-combined"]
FAR_OFF = [
    pytest.param({"start": "0001-01-01", "end": "2026-01-31"}, "From", id="start-year-1"),
    pytest.param({"start": "2026-01-01", "end": "9999-12-31"}, "To", id="end-year-9999"),
    pytest.param({"start": "0001-01-01", "end": "9999-12-31"}, "From", id="both"),
    pytest.param({"start": "0001-01-01", "end": "0001-01-31", "compare": "year"}, "From", id="year-ago-of-year-1"),
]


@pytest.fixture
def manager_client(client):
    client.force_login(cx_manager())
    return client


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize(("params", "label"), FAR_OFF)
def test_pages_answer_400_with_the_message(manager_client, name, params, label):
    small_dataset()
    response = manager_client.get(reverse(name), params)
    assert response.status_code == 400
    html = response.content.decode()
    assert f"“{label}” must be a date from 1970-01-01 to" in html
    assert 'class="chart' not in html


@pytest.mark.parametrize("chart", ["kpis", "nps_trend"])
@pytest.mark.parametrize(("params", "label"), FAR_OFF)
def test_csv_exports_answer_400_with_the_message_as_text(manager_client, chart, params, label):
    response = manager_client.get(reverse("dashboards-export", args=[chart]), params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert f"“{label}” must be a date from 1970-01-01 to" in response.content.decode()


@pytest.mark.parametrize(("params", "label"), FAR_OFF)
def test_the_comments_export_answers_400_with_the_message(manager_client, params, label):
    response = manager_client.get(reverse("dashboards-export-comments"), params)
    assert response.status_code == 400
    assert f"“{label}” must be a date from 1970-01-01 to" in response.content.decode()


@pytest.mark.parametrize(("params", "label"), FAR_OFF)
def test_the_api_answers_400_json_with_the_message(client, params, label):
    _, raw = ApiToken.issue(user=cx_manager(), name="test")
    response = client.get(reverse("dashboards-api-metrics"), params, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 400
    body = response.json()
    field = "start" if label == "From" else "end"
    assert f"{field}: “{label}” must be a date from 1970-01-01 to" in body["error"]
    assert body["fields"][field][0].startswith(f"“{label}” must be")


@pytest.mark.parametrize("name", PAGES)
def test_the_year_ago_comparison_at_the_lower_bound_renders(manager_client, name):
    small_dataset()
    response = manager_client.get(reverse(name), {"start": "1970-01-01", "end": "1970-12-31", "compare": "year"})
    assert response.status_code == 200
    assert "31 Dec 1969" in response.content.decode()  # the comparison period, a year earlier


def test_the_api_at_the_lower_bound_with_the_year_ago_comparison(client):
    small_dataset()
    _, raw = ApiToken.issue(user=cx_manager(), name="test")
    params = {"start": "1970-01-01", "end": "2026-01-31", "compare": "year"}
    response = client.get(reverse("dashboards-api-metrics"), params, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["customers"]["at_start"] == 0
