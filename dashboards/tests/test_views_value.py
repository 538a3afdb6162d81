"""The Value & retention page on the demo data: access, its figures equal to the API document's, the
retention chart and table, the small-sample rule, its CSV exports."""

from __future__ import annotations

import csv
import io
import json
import re

import plotly.graph_objects as go
import pytest
from django.urls import reverse
from django.utils import timezone

from cxmetrics.demo import seed_demo
from cxmetrics.tests.factories import UserFactory, cx_manager
from dashboards import charts, datasets
from metrics import survival
from metrics.document import metrics_document
from metrics.filters import MetricFilters, preset_period

URL = "dashboards-value"
LAST_YEAR = {"preset": "year"}


@pytest.fixture
def demo(db):
    return seed_demo(customers=300, months=12, seed=1)


@pytest.fixture
def manager_client(client, db):
    client.force_login(cx_manager())
    return client


def year_filters() -> MetricFilters:
    return MetricFilters(*preset_period("year"))


def test_the_page_renders_in_bounded_queries_and_is_in_the_nav(demo, manager_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(40):
        response = manager_client.get(reverse(URL))
    assert response.status_code == 200
    html = response.content.decode()
    assert "CLV (revenue-based)" in html and "Revenue-based" in html
    assert 'data-table="clv_by_segment"' in html and 'data-table="top_advocates"' in html
    assert 'data-table="retention_at_days"' in html and "data-logrank" in html
    assert f'href="{reverse(URL)}' in manager_client.get(reverse("dashboards-overview")).content.decode()


def test_the_figures_are_the_api_documents(demo, manager_client, settings):
    settings.DASHBOARD_MIN_RESPONSES = 1
    html = manager_client.get(reverse(URL), LAST_YEAR).content.decode()
    document = metrics_document(year_filters())["value"]
    clv = re.search(r'data-kpi="clv" data-value="([^"]*)"', html).group(1)
    assert clv == ("" if document["clv"]["clv"] is None else str(document["clv"]["clv"]))
    curves = document["retention_by_nps_category"]["curves"]
    for category, curve in curves.items():
        row = re.search(rf'<tr data-category="{category}"><td>[^<]*</td><td class="text-end">([\d,.\s]*)</td>', html)
        assert row and row.group(1).replace(",", "") == str(curve["customers"])


def test_the_retention_chart_draws_a_curve_and_a_band_per_category(demo, manager_client, settings):
    settings.DASHBOARD_MIN_RESPONSES = 1
    frame = datasets.retention_curves(year_filters(), "month")
    figure = charts.retention_curves(frame)
    assert json.loads(go.Figure(figure).to_json()) == figure
    drawn = {
        c for c, curve in survival.retention_by_nps_category(filters=year_filters()).curves.items() if curve.customers
    }
    lines = [t for t in figure["data"] if t.get("line", {}).get("width") == 3]
    bands = [t for t in figure["data"] if t.get("fill") == "tonexty"]
    assert len(lines) == len(bands) == len(drawn) >= 2
    assert all(t["line"]["shape"] == "hv" for t in lines)
    # Hover reads each step's interval and the customers still followed from the curve's own rows.
    for line in lines:
        rows = frame[frame["category"] == line["legendgroup"]]
        assert [row[2] for row in line["customdata"]] == rows["at_risk"].tolist()
        assert [row[0] for row in line["customdata"]] == pytest.approx((100 * rows["lower"]).tolist())
        assert "%{customdata[2]:,} followed" in line["hovertemplate"]
    # A band holds its curve: lower ≤ retention ≤ upper at every step.
    for _category, rows in frame[frame["customers"] > 0].groupby("category"):
        assert ((rows["lower"] <= rows["retention"] + 1e-12) & (rows["retention"] <= rows["upper"] + 1e-12)).all()


def test_categories_with_too_few_customers_get_no_curve_and_say_so(demo, manager_client, settings):
    settings.DASHBOARD_MIN_RESPONSES = 100_000
    html = manager_client.get(reverse(URL), LAST_YEAR).content.decode()
    assert "No curve for" in html
    assert "too few customers (n = " in html
    frame = datasets.retention_curves(year_filters(), "month")
    assert charts.retention_curves(frame) is None


def test_exports_are_their_datasets(demo, manager_client):
    for chart in ("clv_by_segment", "top_advocates", "retention_curves", "retention_at_days"):
        response = manager_client.get(reverse("dashboards-export", args=[chart]), LAST_YEAR)
        assert response.status_code == 200
        body = b"".join(response.streaming_content).decode("utf-8")
        rows = list(csv.reader(io.StringIO(body[1:])))
        frame = datasets.DATASETS[chart](year_filters(), "month")
        assert rows[0] == list(frame.columns) and len(rows) == len(frame) + 1


def test_access_is_for_cx_managers(client, db):
    assert client.get(reverse(URL)).status_code == 302
    client.force_login(UserFactory(username="agent"))
    assert client.get(reverse(URL)).status_code == 403


def test_an_empty_database_shows_how_to_get_data(manager_client):
    html = manager_client.get(reverse(URL)).content.decode()
    assert "No data yet" in html and 'class="chart' not in html


def test_bad_filters_give_400(demo, manager_client):
    assert manager_client.get(reverse(URL), {"segment": "Nope"}).status_code == 400


def test_the_as_of_day_is_today(demo):
    assert survival.retention_by_nps_category(filters=year_filters()).as_of == timezone.localdate()


def test_spanish_page_uses_decimal_commas_and_the_currency(demo, manager_client, settings):
    settings.DASHBOARD_MIN_RESPONSES = 1
    settings.CURRENCY = "EUR"
    manager_client.cookies["django_language"] = "es"
    html = manager_client.get(reverse(URL), LAST_YEAR).content.decode()
    # Retention at 90 days and its interval, as "96,0 %" over "93,4–97,5 %".
    assert re.search(
        r'<span class="text-nowrap fw-semibold">\d+,\d\xa0%</span><br><span class="small text-body-secondary text-nowrap">\d+,\d–\d+,\d\xa0%',
        html,
    )
    assert re.search(r"p = \d,\d{3}|p = sin datos", html)
    assert re.search(r'figure-value fs-1">[\d.]+\xa0€<', html)  # CLV: "208.130 €"


def test_the_advocacy_index_is_the_api_documents_with_its_csv(demo, manager_client, settings):
    settings.DASHBOARD_MIN_RESPONSES = 1
    html = manager_client.get(reverse(URL), LAST_YEAR).content.decode()
    index = metrics_document(year_filters())["value"]["advocacy_index"]
    assert index["n"] > 0  # the demo's relational survey asks NPS and trust
    shown = re.search(r'data-kpi="advocacy_index" data-value="([^"]*)"', html).group(1)
    assert float(shown) == pytest.approx(index["index"])
    csv_url = reverse("dashboards-export", args=["advocacy_index"])
    body = b"".join(manager_client.get(csv_url, LAST_YEAR).streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [int(rows[0]["n"])] == [index["n"]] and float(rows[0]["index"]) == pytest.approx(index["index"])
