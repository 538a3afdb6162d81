"""The Follow-up page: access, the complaint figures equal to the API document's, in English and Spanish,
its charts and its CSV exports equal to the datasets."""

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
from followup import services as followup
from metrics.document import metrics_document
from metrics.filters import MetricFilters, preset_period
from metrics.tests.factories import CustomerFactory, ResponseFactory

URL = "dashboards-follow-up"
YEAR = {"preset": "year"}


@pytest.fixture
def demo(db):
    return seed_demo(customers=300, months=12, seed=1)


@pytest.fixture
def manager_client(client, db):
    client.force_login(cx_manager())
    return client


def year_filters() -> MetricFilters:
    return MetricFilters(*preset_period("year"))


def kpi(html: str, key: str) -> str:
    return re.search(rf'data-kpi="{key}" data-value="([^"]*)"', html).group(1)


def test_only_cx_managers_see_it(client, db):
    assert client.get(reverse(URL)).status_code == 302
    client.force_login(UserFactory(username="agent"))
    assert client.get(reverse(URL)).status_code == 403


def test_the_page_renders_in_english_and_spanish_and_is_in_the_nav(demo, manager_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(40):
        english = manager_client.get(reverse(URL), HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 200
    html = english.content.decode()
    assert "Complaints and inquiries by category" in html and "Incidents and satisfaction" in html
    assert f'href="{reverse(URL)}' in manager_client.get(reverse("dashboards-overview")).content.decode()
    spanish = manager_client.get(reverse(URL), HTTP_ACCEPT_LANGUAGE="es")
    assert spanish.status_code == 200 and 'lang="es"' in spanish.content.decode()


def test_the_figures_are_the_api_documents(demo, manager_client, settings):
    settings.DASHBOARD_MIN_RESPONSES = 1
    html = manager_client.get(reverse(URL), YEAR).content.decode()
    document = metrics_document(year_filters())["follow_up"]["complaints"]
    assert document["complaints"] > 0 and document["inquiries"] > 0
    assert kpi(html, "complaints") == str(document["complaints"])
    assert kpi(html, "inquiries") == str(document["inquiries"])
    assert kpi(html, "complaint_rate") == str(document["complaint_rate"]["rate"])
    assert kpi(html, "resolution_time") == str(document["resolution_time"]["median_hours"])
    with_incident = document["incidents_and_satisfaction"]["with_incident"]["score"]
    assert kpi(html, "nps_with_incident") == ("" if with_incident is None else str(with_incident))


def test_complaints_by_theme_is_the_api_document_s(demo, manager_client):
    html = manager_client.get(reverse(URL), YEAR).content.decode()
    by_theme = metrics_document(year_filters())["follow_up"]["complaints"]["by_theme"]
    assert by_theme["analysed"] > 0 and by_theme["themes"]
    table = html[html.index('data-table="complaints_by_theme"') :]
    table = table[: table.index("</table>")]
    name, top = max(by_theme["themes"].items(), key=lambda item: item[1]["complaints"])
    assert name in table and f"{top['complaints']:,}" in table


def test_the_categories_are_named_in_the_page_s_language(demo, manager_client):
    from django.utils import translation

    with translation.override("es"):
        labels = set(datasets.complaints_by_category(year_filters(), "month")["label"])
    assert labels <= {"entrega", "facturación", "calidad del producto", "atención", "otros"} and labels


@pytest.mark.parametrize(
    "name",
    [
        "complaints_by_category",
        "complaints_by_channel",
        "complaint_figures",
        "incidents_and_satisfaction",
        "complaints_by_theme",
    ],
)
def test_each_csv_is_its_dataset(demo, manager_client, name):
    response = manager_client.get(reverse("dashboards-export", args=[name]), YEAR)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    frame = datasets.DATASETS[name](year_filters(), "month")
    assert rows[0] == list(frame.columns) and len(rows) == len(frame) + 1


def test_the_charts_are_valid_plotly(demo, settings):
    settings.DASHBOARD_MIN_RESPONSES = 1
    for name, build in (
        ("complaints_by_category", charts.complaints_by_category),
        ("complaints_by_channel", charts.complaints_by_channel),
        ("incidents_and_satisfaction", charts.incidents_and_satisfaction),
    ):
        figure = build(datasets.DATASETS[name](year_filters(), "month"))
        assert figure is not None and json.loads(go.Figure(figure).to_json()) == figure


def test_a_group_below_the_minimum_is_faded_without_a_number(demo):
    frame = datasets.incidents_and_satisfaction(year_filters(), "month")
    frame.loc[:, "too_few"] = [True, False]
    figure = charts.incidents_and_satisfaction(frame)
    bar = figure["data"][0]
    assert bar["marker"]["opacity"][0] == charts.FADED and bar["text"][0] == ""
    assert bar["x"][0].endswith("†")


def test_the_customer_base_page_says_which_source_it_found(demo, manager_client):
    html = manager_client.get(reverse("dashboards-customers"), YEAR).content.decode()
    assert "data-incident-sources" in html and "after a complaint" in html and "after an operational incident" in html
    response = manager_client.get(reverse("dashboards-export", args=["lost_after_incident"]), YEAR)
    header = next(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert header[-4:] == ["detractor", "incident", "complaint", "operational"]


def test_the_loop_figures_are_the_api_documents_and_download_as_csv(manager_client, db):
    owner = cx_manager("owner")
    now = timezone.now()
    customer = CustomerFactory()
    answer = ResponseFactory(customer=customer, nps=2, submitted_at=now)
    case = followup.case_open(customer=customer, response=answer, owner=owner, sla_hours=24, now=now)
    followup.case_close(case=case, outcome="contacted", by=owner, now=now)
    followup.case_open(customer=CustomerFactory(), owner=owner, sla_hours=24, now=now)

    html = manager_client.get(reverse(URL), YEAR).content.decode()
    document = metrics_document(year_filters())["loop"]
    assert kpi(html, "cases_opened") == "2" == str(document["cases"]["opened"])
    assert float(kpi(html, "loop_closure_rate")) == document["loop_closure"]["rate"] == 100.0
    assert "no data: each group needs at least 30 customers" in html
    download = manager_client.get("/export/loop_figures.csv", YEAR)
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert {r["figure"]: r["n"] for r in rows}["cases_opened"] == "2"
