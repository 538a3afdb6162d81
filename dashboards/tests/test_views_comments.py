"""The Comments page: access, nav, its figures equal to the API document's, drill-down to the explorer
with the matching words marked, the CSV exports, the metrics command."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from comments.models import Theme
from comments.services import comments_catch_up
from cxmetrics.tests.factories import cx_manager
from metrics.document import metrics_document
from metrics.filters import MetricFilters, preset_period
from metrics.tests.factories import ResponseFactory

URL = "dashboards-comments"


@pytest.fixture
def comments_data(db):
    now = timezone.now() - timedelta(days=3)
    for text, nps in [
        ("The delivery was late <b>again</b> & slow.", 2),
        ("Deliveries always arrive broken", 4),
        ("Friendly staff, thank you", 10),
        ("Nothing to add", 8),
    ]:
        ResponseFactory(comment=text, nps=nps, submitted_at=now)
    comments_catch_up()


@pytest.fixture
def manager_client(client, db):
    client.force_login(cx_manager())
    return client


def test_page_renders_in_the_nav_with_the_documents_figures(comments_data, manager_client, settings):
    settings.DASHBOARD_MIN_RESPONSES = 1
    response = manager_client.get(reverse(URL), {"preset": "last_30"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-table="themes"' in html and "chart-theme-share-figure" in html and "chart-theme-impact-figure" in html
    assert f'href="{reverse(URL)}' in manager_client.get(reverse("dashboards-overview")).content.decode()
    document = metrics_document(MetricFilters(*preset_period("last_30")))["comments"]
    assert document["analysed"] == 4
    delivery = document["themes"]["Delivery"]
    # 4 NPS answers: 1 promoter, 1 passive, 2 detractors = −25; without the two delivery ones (both
    # detractors): 1 promoter, 1 passive = 50; −25 − 50 = −75.
    assert (delivery["mentions"], delivery["share"], delivery["impact"]) == (2, 50.0, -75.0)
    assert "−75.0" in html  # the impact as the table shows it


def test_a_theme_drills_down_to_its_comments_with_the_words_marked(comments_data, manager_client):
    delivery = Theme.objects.get(name="Delivery")
    html = manager_client.get(reverse(URL), {"preset": "last_30"}).content.decode()
    assert f"theme={delivery.pk}" in html
    page = manager_client.get(reverse("dashboards-responses"), {"preset": "last_30", "theme": delivery.pk})
    body = page.content.decode()
    assert body.count("data-highlighted") == 2
    assert "<mark>delivery</mark>" in body and "<mark>Deliveries</mark>" in body
    assert "&lt;b&gt;again&lt;/b&gt; &amp; slow" in body  # the comment itself stays escaped
    assert "Friendly staff" not in body


def test_an_unknown_theme_is_a_clear_error(comments_data, manager_client):
    page = manager_client.get(reverse("dashboards-responses"), {"theme": "999999"})
    assert page.status_code == 400
    assert "data-explorer-errors" in page.content.decode()


@pytest.mark.parametrize("chart", ["themes", "theme_trend", "theme_by_segment", "sentiment_trend", "emerging_themes"])
def test_csv_exports(comments_data, manager_client, chart):
    response = manager_client.get(reverse("dashboards-export", args=[chart]), {"preset": "last_30"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]


def test_metrics_command_includes_the_comments(comments_data, capsys):
    call_command("metrics", "--preset", "last_30")
    document = json.loads(capsys.readouterr().out)
    assert document["comments"]["themes"]["Delivery"]["mentions"] == 2
