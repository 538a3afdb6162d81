"""A web request's runaway query ends with the request (PostgreSQL's statement_timeout, set for web
requests only), and the user gets a plain 503 instead of a worker killed mid-query."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.urls import reverse

from cxmetrics.tests.factories import cx_manager

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def one_second(settings):
    settings.WEB_STATEMENT_TIMEOUT_SECONDS = 1
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET statement_timeout")
    connection.__dict__.pop("_web_statement_timeout_on", None)


def _slow_document(filters):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(5)")
    return {}


def test_a_runaway_query_in_a_web_request_is_cancelled(postgres_db, one_second, client, monkeypatch):
    monkeypatch.setattr("dashboards.api.metrics_document", _slow_document)
    client.force_login(cx_manager())
    started = time.monotonic()
    response = client.get(reverse("dashboards-api-metrics"))
    assert time.monotonic() - started < 4
    assert response.status_code == 503
    assert response.json() == {"error": "The database did not answer within 1 seconds."}


def test_the_timeout_is_set_once_per_database_session(postgres_db, one_second, client):
    client.force_login(cx_manager())
    client.get(reverse("dashboards-api-metrics"))
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "1s"
        cursor.execute("SET statement_timeout = 0")
    client.get(reverse("dashboards-api-metrics"))  # same session: not set again
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


def test_commands_and_workers_keep_no_limit(postgres_db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
