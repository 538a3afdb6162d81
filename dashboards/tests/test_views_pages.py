"""The dashboard pages on the demo data: access, filters, errors, figures equal to the API's, CSV
exports equal to the datasets, and a bounded number of queries per page."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

import plotly.graph_objects as go
import pytest
from django.urls import reverse
from django.utils import timezone

from cxmetrics.demo import seed_demo
from cxmetrics.tests.factories import UserFactory, cx_manager
from dashboards import charts, datasets
from metrics.document import metrics_document
from metrics.filters import MetricFilters

PAGES = ["dashboards-overview", "dashboards-surveys", "dashboards-customers", "dashboards-combined"]
MAX_QUERIES_PER_PAGE = 40


@pytest.fixture
def demo(db):
    return seed_demo(customers=300, months=6, seed=1)


@pytest.fixture
def manager_client(client, db):
    client.force_login(cx_manager())
    return client


def last_90_days() -> dict[str, str]:
    today = timezone.localdate()
    return {"start": (today - timedelta(days=89)).isoformat(), "end": today.isoformat()}


def kpi_values(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-kpi="([a-z_]+)" data-value="([^"]*)"', html))


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_for_a_cx_manager_in_bounded_queries(
    demo, manager_client, name, django_assert_max_num_queries
):
    with django_assert_max_num_queries(MAX_QUERIES_PER_PAGE):
        response = manager_client.get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("vendor/plotly/plotly.min.js") == 1
    assert "js/dashboards.js" in html
    assert 'class="chart' in html
    assert "No data yet" not in html


def test_every_figure_the_pages_draw_is_a_valid_plotly_figure(demo, manager_client, monkeypatch):
    """charts._figure skips plotly.py's validation of the whole figure at request time; this holds every
    figure of every page (with and without a segment filter) to it: go.Figure refuses an unknown or
    invalid property, and its JSON is what the page got."""
    drawn = []
    build = charts._figure
    monkeypatch.setattr(charts, "_figure", lambda traces, **layout: drawn.append(build(traces, **layout)) or drawn[-1])
    for name in PAGES:
        for params in ({}, {"segment": "Key"}):
            assert manager_client.get(reverse(name), params).status_code == 200
    assert len(drawn) >= 20
    for figure in drawn:
        assert json.loads(go.Figure(figure).to_json()) == figure


@pytest.mark.parametrize("name", PAGES)
def test_query_count_does_not_grow_with_filters(demo, manager_client, name, django_assert_max_num_queries):
    params = {
        **last_90_days(),
        "segment": "Standard",
        "survey": "relational-nps",
        "survey_type": "relational",
        "touchpoint": "relationship",
        "audience": "b2b",
        "granularity": "week",
    }
    with django_assert_max_num_queries(MAX_QUERIES_PER_PAGE):
        assert manager_client.get(reverse(name), params).status_code == 200


@pytest.mark.parametrize("name", [*PAGES, "dashboards-export"])
def test_anonymous_users_are_sent_to_the_login_page(client, db, name):
    url = reverse(name, args=["nps_trend"]) if name == "dashboards-export" else reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", [*PAGES, "dashboards-export"])
def test_signed_in_users_who_are_not_cx_managers_get_403(client, db, name):
    client.force_login(UserFactory(username="agent"))
    url = reverse(name, args=["nps_trend"]) if name == "dashboards-export" else reverse(name)
    assert client.get(url).status_code == 403


def test_staff_see_the_dashboards(client, db):
    client.force_login(UserFactory(username="root", is_staff=True))
    assert client.get(reverse("dashboards-surveys")).status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_an_empty_database_shows_how_to_get_data(manager_client, name):
    response = manager_client.get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert "No data yet" in html
    assert "seed_demo" in html
    assert 'class="chart' not in html


@pytest.mark.parametrize("name", PAGES)
def test_bad_filters_give_400_with_the_errors(demo, manager_client, name):
    response = manager_client.get(reverse(name), {"segment": "Nope", "start": "2026-02-30", "end": "2026-01-31"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Unknown segment" in html
    assert "Enter a date as YYYY-MM-DD." in html
    assert 'class="chart' not in html
    assert "No data yet" not in html


def test_end_before_start_is_a_form_error(demo, manager_client):
    response = manager_client.get(reverse("dashboards-overview"), {"start": "2026-02-01", "end": "2026-01-01"})
    assert response.status_code == 400
    assert "is before the start date" in response.content.decode()


def test_overview_figures_equal_the_api_document(demo, manager_client):
    params = last_90_days()
    html = manager_client.get(reverse("dashboards-overview"), params).content.decode()
    shown = kpi_values(html)
    filters = MetricFilters(start=timezone.localdate() - timedelta(days=89), end=timezone.localdate())
    document = metrics_document(filters)
    assert float(shown["nps"]) == pytest.approx(document["nps"]["score"])
    assert float(shown["csat"]) == pytest.approx(document["csat"]["score"])
    assert float(shown["ces"]) == pytest.approx(document["ces"]["mean"])
    assert int(shown["customers"]) == document["customers"]["at_end"]
    assert float(shown["churn_rate"]) == pytest.approx(document["customers"]["churn_rate"])
    assert int(shown["net_growth"]) == document["customers"]["net_growth"]
    assert float(shown["revenue_at_risk"]) == pytest.approx(document["combined"]["revenue_at_risk"])
    api = manager_client.get(reverse("dashboards-api-metrics"), params).json()
    assert float(shown["nps"]) == pytest.approx(api["nps"]["score"])
    assert int(shown["customers"]) == api["customers"]["at_end"]


def test_the_default_period_is_the_last_90_days(demo, manager_client):
    html = manager_client.get(reverse("dashboards-overview")).content.decode()
    explicit = manager_client.get(reverse("dashboards-overview"), last_90_days()).content.decode()
    assert kpi_values(html) == kpi_values(explicit)
    assert '<option value="last_90" selected>' in html


def test_a_segment_filter_changes_the_numbers(demo, manager_client):
    everyone = kpi_values(manager_client.get(reverse("dashboards-overview")).content.decode())
    standard = kpi_values(manager_client.get(reverse("dashboards-overview"), {"segment": "Standard"}).content.decode())
    assert int(standard["customers"]) < int(everyone["customers"])
    assert standard["nps"] != everyone["nps"]


def test_nav_links_keep_the_filters_but_not_the_comment_search(demo, manager_client):
    html = manager_client.get(
        reverse("dashboards-surveys"), {"segment": "Key", "preset": "year", "q": "price", "page": "2"}
    ).content.decode()
    for name in PAGES:
        assert f'href="{reverse(name)}?preset=year&amp;segment=Key"' in html
    assert f'href="{reverse("dashboards-export", args=["nps_trend"])}?preset=year&amp;segment=Key"' in html


def test_small_numbers_are_shown_as_too_few_responses(demo, manager_client):
    # One week of one segment: far fewer than 30 NPS answers.
    today = timezone.localdate()
    html = manager_client.get(
        reverse("dashboards-overview"),
        {
            "start": (today - timedelta(days=6)).isoformat(),
            "end": today.isoformat(),
            "segment": "Strategic",
        },
    ).content.decode()
    assert re.search(r"too few responses \(n = \d+\)|no data", html)


# --- CSV export ------------------------------------------------------------------------------------


@pytest.mark.parametrize("chart", sorted(datasets.DATASETS))
def test_every_export_is_its_dataset(demo, manager_client, chart):
    params = {**last_90_days(), "granularity": "month"}
    response = manager_client.get(reverse("dashboards-export", args=[chart]), params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"{chart}-{params['start']}-{params['end']}.csv" in disposition
    filters = MetricFilters(start=timezone.localdate() - timedelta(days=89), end=timezone.localdate())
    frame = datasets.DATASETS[chart](filters, "month")
    body = content(response)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:])))
    assert rows[0] == list(frame.columns) and len(rows) == len(frame) + 1


def content(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def test_export_respects_the_segment_filter_and_names_it(demo, manager_client):
    url = reverse("dashboards-export", args=["nps_by_segment"])
    response = manager_client.get(url, {"segment": "Key", "survey_type": "relational"})
    rows = list(csv.DictReader(io.StringIO(content(response)[1:])))
    assert {row["segment"] for row in rows} == {"Key"}
    assert "-segment-key-survey_type-relational.csv" in response["Content-Disposition"]


def test_export_numbers_are_rounded_like_the_page_without_float_artefacts(demo, manager_client):
    rows = list(
        csv.DictReader(
            io.StringIO(
                content(manager_client.get(reverse("dashboards-export", args=["nps_by_segment"]), {"preset": "year"}))[
                    1:
                ]
            )
        )
    )
    for row in rows:
        for column in ("nps", "promoters_pct", "margin_of_error"):
            decimals = row[column].partition(".")[2]
            assert len(decimals) <= 4, (column, row[column])
    lost = list(
        csv.DictReader(
            io.StringIO(
                content(manager_client.get(reverse("dashboards-export", args=["lost_customers"]), {"preset": "year"}))[
                    1:
                ]
            )
        )
    )
    assert lost and all(len(row["value"].partition(".")[2]) <= 2 for row in lost)


def test_export_in_spanish_uses_semicolons_and_decimal_commas(demo, manager_client):
    manager_client.cookies["django_language"] = "es"
    body = content(manager_client.get(reverse("dashboards-export", args=["nps_by_segment"]), {"preset": "year"}))
    header, first = body[1:].splitlines()[:2]
    assert header.startswith("segment;promoters;")
    assert ";" in first and "." not in first.split(";")[5]  # the NPS with a decimal comma, if any


def test_exports_name_customers_by_crm_id_and_neutralise_formulas(demo, manager_client):
    from customers.models import Customer, Event

    lost = Event.objects.filter(type=Event.Type.LOST).select_related("customer").latest("occurred_at")
    Event.objects.filter(pk=lost.pk).update(reason='=HYPERLINK("http://x")')
    Customer.objects.filter(pk=lost.customer_id).update(name="+cmd|' /C calc'!A0")
    day = timezone.localtime(lost.occurred_at).date().isoformat()
    body = content(
        manager_client.get(reverse("dashboards-export", args=["lost_customers"]), {"start": day, "end": day})
    )
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(body[1:]))}
    row = rows["'+cmd|' /C calc'!A0"]
    assert row["reason"] == '\'=HYPERLINK("http://x")'
    assert row["customer_id"] == lost.customer.external_id


def test_unknown_chart_is_404(demo, manager_client):
    assert manager_client.get(reverse("dashboards-export", args=["nope"])).status_code == 404


def test_export_with_bad_filters_is_400(demo, manager_client):
    response = manager_client.get(reverse("dashboards-export", args=["kpis"]), {"granularity": "day"})
    assert response.status_code == 400
    assert "granularity" in response.content.decode()


# --- comments --------------------------------------------------------------------------------------


def test_comments_are_paginated_latest_first(demo, manager_client, django_assert_max_num_queries):
    url = reverse("dashboards-surveys")
    html = manager_client.get(url, {"preset": "year"}).content.decode()
    total = int(re.search(r"data-comment-count>(\d+)<", html).group(1))
    assert total > 25
    assert html.count('class="list-group-item"') == 25
    with django_assert_max_num_queries(MAX_QUERIES_PER_PAGE):
        last = manager_client.get(url, {"preset": "year", "page": "999"}).content.decode()
    assert last.count('class="list-group-item"') == total - 25 * ((total - 1) // 25)


def test_comments_filter_by_category_and_text(demo, manager_client):
    url = reverse("dashboards-surveys")
    html = manager_client.get(url, {"preset": "year", "category": "detractor"}).content.decode()
    assert "score-detractor" in html
    assert "score-promoter" not in html and "score-passive" not in html
    html = manager_client.get(url, {"preset": "year", "q": "support"}).content.decode()
    comments = re.findall(r'<p class="mb-1">([^<]*)</p>', html)
    assert comments and all("support" in c.lower() for c in comments)
    html = manager_client.get(url, {"preset": "year", "q": "no comment says this"}).content.decode()
    assert "data-comment-count>0<" in html


def test_the_comment_list_exports_with_its_filters(demo, manager_client):
    from surveys.models import Response

    response = Response.objects.exclude(comment="").exclude(customer=None).latest("submitted_at")
    Response.objects.filter(pk=response.pk).update(comment="-1+1 was fine, support slow")
    html = manager_client.get(reverse("dashboards-surveys"), {"preset": "year", "q": "support"}).content.decode()
    url = reverse("dashboards-export-comments")
    assert f'data-comments-csv href="{url}?preset=year&amp;q=support"' in html
    export = manager_client.get(reverse("dashboards-export-comments"), {"preset": "year", "q": "support"})
    assert "cxmetrics-comments-" in export["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(content(export)[1:])))
    assert rows and all("support" in row["comment"].lower() for row in rows)
    mine = next(row for row in rows if row["comment"].endswith("support slow"))
    assert mine["comment"] == "'-1+1 was fine, support slow"
    assert mine["customer_id"] == response.customer.external_id and mine["survey"] == response.survey.name


# --- numbers that agree ------------------------------------------------------------------------------


def card_html(html: str, key: str) -> str:
    start = html.index(f'data-kpi="{key}"')
    return html[
        start : html.index('<div class="col-6 col-lg-4">', start)
        if '<div class="col-6 col-lg-4">' in html[start:]
        else None
    ]


def test_a_card_with_too_few_responses_shows_no_change(demo, manager_client):
    today = timezone.localdate()
    html = manager_client.get(
        reverse("dashboards-overview"),
        {"start": (today - timedelta(days=6)).isoformat(), "end": today.isoformat(), "segment": "Strategic"},
    ).content.decode()
    nps = card_html(html, "nps")
    assert "too few responses" in nps or "no data" in nps
    assert "significant" not in nps and "▲" not in nps and "▼" not in nps


def test_with_a_segment_filter_the_customers_card_adds_up_and_churn_and_retention_are_complements(demo, manager_client):
    from metrics import customers

    params = {"preset": "year", "segment": "Key"}
    form_filters = MetricFilters(start=date(timezone.localdate().year, 1, 1), end=timezone.localdate(), segment="Key")
    base = customers.customer_base(filters=form_filters)
    assert base.at_end == base.at_start + base.new + base.moved_in - base.lost - base.moved_out
    assert base.churn_rate + base.retention_rate == pytest.approx(100)
    html = manager_client.get(reverse("dashboards-customers"), params).content.decode()
    assert 'data-stat="moved_in"' in html and 'data-stat="moved_out"' in html
    if base.moved_in or base.moved_out:
        overview = manager_client.get(reverse("dashboards-overview"), params).content.decode()
        assert "moved in" in card_html(overview, "customers")


def test_money_carries_the_currency(demo, manager_client, settings):
    settings.CURRENCY = "EUR"
    html = manager_client.get(reverse("dashboards-combined"), {"preset": "year"}).content.decode()
    assert re.search(r'figure-value-xl">€[\d,]+<', html)


def test_spanish_pages_use_spanish_numbers_and_labels(demo, manager_client):
    manager_client.cookies["django_language"] = "es"
    html = manager_client.get(reverse("dashboards-overview"), {"preset": "year"}).content.decode()
    assert re.search(r"data-kpi-value>[+−]?\d+,\d<", html)  # NPS with a decimal comma
    assert '"separators":",."' in html.replace(" ", "")
    error = manager_client.get(reverse("dashboards-overview"), {"start": "2026-13-01", "end": "2026-01-31"})
    assert error.status_code == 400
    assert "<strong>Desde</strong>" in error.content.decode()  # the field's label, not "start"
    # Surveys are offered by their title in the page's language; the slug stays the filter's value.
    assert '<option value="delivery-csat">CSAT de entrega</option>' in html
    manager_client.cookies["django_language"] = "en"
    html = manager_client.get(reverse("dashboards-overview"), {"preset": "year"}).content.decode()
    assert '<option value="delivery-csat">Delivery CSAT</option>' in html


def test_attributes_are_named_in_the_page_language_and_exports_keep_the_key(demo, manager_client):
    from django.utils import translation

    from dashboards.datasets import attribute_ratings

    filters = MetricFilters(start=date(2000, 1, 1), end=timezone.localdate())
    with translation.override("es"):
        spanish = attribute_ratings(filters)
    with translation.override("en"):
        english = attribute_ratings(filters)
    assert dict(zip(spanish["attribute"], spanish["label"], strict=True))["delivery speed"] == "rapidez de entrega"
    assert list(english["label"]) == list(english["attribute"])
    manager_client.cookies["django_language"] = "es"
    html = manager_client.get(reverse("dashboards-surveys"), {"preset": "year"}).content.decode()
    assert "rapidez de entrega" in html
    csv_text = manager_client.get(reverse("dashboards-export", args=["attribute_ratings"]), {"preset": "year"})
    lines = b"".join(csv_text.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].split(";")[:2] == ["attribute", "label"]
    assert any(line.startswith("delivery speed;rapidez de entrega;") for line in lines)


def test_a_survey_that_asks_no_nps_says_so_instead_of_no_data(demo, manager_client):
    from surveys.models import Question
    from surveys.tests.factories import QuestionFactory, ResponseFactory, SurveyFactory

    ces_only = SurveyFactory(slug="ces-only", survey_type="transactional", touchpoint="support")
    QuestionFactory(survey=ces_only, kind=Question.Kind.CES)
    ResponseFactory(survey=ces_only, nps=None, ces=6, submitted_at=timezone.now())
    html = manager_client.get(reverse("dashboards-surveys"), {"preset": "year", "survey": "ces-only"}).content.decode()
    assert html.count("ask no NPS question") >= 5  # trend, distribution and the three breakdowns
    assert "No data for these filters." not in html.split('id="comments"')[0].split("CES trend")[0]
    overview = manager_client.get(reverse("dashboards-overview"), {"preset": "year", "survey": "ces-only"})
    assert "not asked" in card_html(overview.content.decode(), "nps")


def test_this_year_compares_with_the_same_dates_last_year(demo, manager_client):
    today = timezone.localdate()
    html = manager_client.get(reverse("dashboards-overview"), {"preset": "year"}).content.decode()
    last_year = date(today.year - 1, 1, 1)
    assert f"compared with {last_year.day} {last_year:%b}" in html
    assert "Changes are against the same dates a year earlier." in html
    previous = manager_client.get(reverse("dashboards-overview"), {"preset": "year", "compare": "previous"})
    assert "Changes are against the previous period of the same length." in previous.content.decode()


def test_the_surveys_page_lists_key_drivers_by_relative_weight(demo, manager_client, settings):
    settings.DASHBOARD_MIN_RESPONSES = 1
    html = manager_client.get(reverse("dashboards-surveys")).content.decode()
    assert 'data-table="driver_importance"' in html and "Key drivers of NPS" in html
    rows = list(
        csv.DictReader(
            io.StringIO(content(manager_client.get(reverse("dashboards-export", args=["driver_importance"])))[1:])
        )
    )
    weights = [float(r["relative_weight"]) for r in rows]
    assert sum(weights) == pytest.approx(100.0, abs=0.1)
    assert all(float(r["lower"]) <= float(r["relative_weight"]) <= float(r["upper"]) for r in rows)
    assert rows and {r["significant"] for r in rows} <= {"true", "false"}


def test_spanish_pages_draw_charts_with_spanish_month_names(demo, manager_client):
    """plotly.js names months in English unless its Spanish locale is registered before the charts are
    drawn; English pages do without it."""
    url = reverse("dashboards-overview")
    spanish = manager_client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    english = manager_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    bundle, locale, drawing = (
        spanish.index(name) for name in ("plotly.min.js", "plotly-locale-es.js", "dashboards.js")
    )
    assert bundle < locale < drawing
    assert "plotly-locale-es.js" not in english
