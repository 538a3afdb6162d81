"""With a read replica, the dashboards and the metrics API read from it; writes, the survey pages and
the refresh stay on the primary (the replica here is the test database itself: Django's MIRROR)."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cxmetrics.tests.factories import cx_manager
from metrics.document import metrics_document
from metrics.filters import MetricFilters
from metrics.tests.factories import ResponseFactory, at

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])

JANUARY = MetricFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))


def _captured():
    return CaptureQueriesContext(connections["default"]), CaptureQueriesContext(connections["replica"])


def test_the_metrics_read_from_the_replica_when_there_is_one(settings):
    ResponseFactory(nps=10, submitted_at=at("2026-01-10"))
    settings.REPLICA_DATABASE = "replica"
    primary, replica = _captured()
    with primary, replica:
        document = metrics_document(JANUARY)
    assert document["nps"]["responses"] == 1
    assert replica.captured_queries and not primary.captured_queries


def test_without_a_replica_everything_reads_from_the_primary(settings):
    settings.REPLICA_DATABASE = None
    primary, replica = _captured()
    with primary, replica:
        metrics_document(JANUARY)
    assert primary.captured_queries and not replica.captured_queries


def test_a_page_reads_its_figures_from_the_replica_and_the_survey_pages_stay_on_the_primary(settings, client):
    response = ResponseFactory(nps=10, submitted_at=at("2026-01-10"))
    settings.REPLICA_DATABASE = "replica"
    client.force_login(cx_manager())
    primary, replica = _captured()
    with primary, replica:
        assert (
            client.get(reverse("dashboards-combined"), {"start": "2026-01-01", "end": "2026-01-31"}).status_code == 200
        )
    assert any("metrics_basedaily" in q["sql"] for q in replica.captured_queries)
    assert not any("metrics_" in q["sql"] for q in primary.captured_queries)
    primary, replica = _captured()
    with primary, replica:
        assert client.get(reverse("surveys-public", args=[response.survey.slug])).status_code == 404
    assert primary.captured_queries and not replica.captured_queries
