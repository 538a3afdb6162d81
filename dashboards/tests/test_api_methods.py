"""Wrong methods on the metrics API answer 405 in JSON, with the CSRF check on as in production."""

from __future__ import annotations

import pytest
from django.test import Client

from cxmetrics.tests.factories import cx_manager
from dashboards.tests.test_api import JANUARY, URL, bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_wrong_method_with_a_token_is_405_json_with_allow(csrf_client, method):
    response = getattr(csrf_client, method)(URL, **bearer(cx_manager()))
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET"
    assert response.json() == {"error": "Only GET is allowed."}


@pytest.mark.parametrize("method", ["post", "delete"])
def test_a_wrong_method_without_credentials_or_with_a_session_is_405_too(csrf_client, method):
    assert getattr(csrf_client, method)(URL).status_code == 405
    csrf_client.force_login(cx_manager())
    response = getattr(csrf_client, method)(URL)
    assert (response.status_code, response["Allow"]) == (405, "GET")
    assert "error" in response.json()


def test_get_still_works_with_the_csrf_check_on(csrf_client):
    assert csrf_client.get(URL, JANUARY, **bearer(cx_manager())).status_code == 200
