"""Bad API tokens are throttled per client address: past the limit within the window, 429 with Retry-After
and no token is even looked up; other addresses are unaffected; the window ends."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import ApiToken
from cxmetrics.tests.factories import cx_manager

pytestmark = pytest.mark.django_db

URL = "/api/v1/metrics/"
PARAMS = {"start": "2026-01-01", "end": "2026-01-31"}


@pytest.fixture
def limits(settings):
    settings.API_TOKEN_FAILURE_LIMIT = 3
    settings.API_TOKEN_FAILURE_WINDOW_SECONDS = 600
    return settings


def get(client, token: str, address: str = "198.51.100.1", **extra):
    return client.get(URL, PARAMS, HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=address, **extra)


def test_the_defaults(settings):
    assert (settings.API_TOKEN_FAILURE_LIMIT, settings.API_TOKEN_FAILURE_WINDOW_SECONDS) == (10, 900)


def test_bad_tokens_are_counted_then_answered_429_without_a_lookup(client, limits):
    _, good = ApiToken.issue(user=cx_manager(), name="good")
    start = time.time()
    with time_machine.travel(start, tick=False):
        for _ in range(3):
            assert get(client, "cxm_wrong").status_code == 401
        with CaptureQueriesContext(connection) as queries:
            response = get(client, "cxm_wrong")
        assert response.status_code == 429
        assert response["Retry-After"] == "600"
        assert response.json()["error"] == "throttled"
        assert not [q for q in queries.captured_queries if "apitoken" in q["sql"].lower()]
        # Even a good token from that address waits: the address, not the token, is throttled.
        assert get(client, good).status_code == 429
    with time_machine.travel(start + 120, tick=False):
        assert get(client, "cxm_wrong")["Retry-After"] == "480"  # the window is not extended


def test_a_good_token_from_another_address_still_works(client, limits):
    _, good = ApiToken.issue(user=cx_manager(), name="good")
    for _ in range(4):
        get(client, "cxm_wrong")
    assert get(client, "cxm_wrong").status_code == 429
    assert get(client, good, address="198.51.100.2").status_code == 200


def test_the_window_expires(client, limits):
    _, good = ApiToken.issue(user=cx_manager(), name="good")
    start = time.time()
    with time_machine.travel(start, tick=False):
        for _ in range(3):
            get(client, "cxm_wrong")
        assert get(client, good).status_code == 429
    with time_machine.travel(start + 601, tick=False):
        assert get(client, good).status_code == 200
        assert get(client, "cxm_wrong").status_code == 401  # a new window, counting from one


def test_failures_below_the_limit_do_not_throttle(client, limits):
    _, good = ApiToken.issue(user=cx_manager(), name="good")
    for _ in range(2):
        assert get(client, "cxm_wrong").status_code == 401
    assert get(client, good).status_code == 200


def test_the_invitations_api_is_throttled_the_same_way(client, limits):
    for _ in range(3):
        response = client.post(
            "/api/v1/surveys/any/invitations/", HTTP_AUTHORIZATION="Bearer cxm_wrong", REMOTE_ADDR="198.51.100.1"
        )
        assert response.status_code == 401
    response = client.post(
        "/api/v1/surveys/any/invitations/", HTTP_AUTHORIZATION="Bearer cxm_wrong", REMOTE_ADDR="198.51.100.1"
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_behind_a_proxy_the_configured_header_is_the_address(client, limits):
    limits.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    _, good = ApiToken.issue(user=cx_manager(), name="good")
    for _ in range(3):
        get(client, "cxm_wrong", address="10.0.0.9", HTTP_X_REAL_IP="203.0.113.7")
    assert get(client, good, address="10.0.0.9", HTTP_X_REAL_IP="203.0.113.7").status_code == 429
    assert get(client, good, address="10.0.0.9", HTTP_X_REAL_IP="203.0.113.8").status_code == 200
