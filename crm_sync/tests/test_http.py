"""The outbound HTTP client against the fake server's failure modes."""

from __future__ import annotations

import logging

import pytest

from crm_sync.connectors import ConnectorError
from crm_sync.http import HttpClient
from crm_sync.tests.fake_hubspot import TOKEN, FakeHubSpot

SEARCH = "/crm/v3/objects/companies/search"


def client(server: FakeHubSpot, **options) -> HttpClient:
    return HttpClient(base_url=server.url, token=TOKEN, service="HubSpot", backoff_seconds=1, **options)


def test_429_waits_for_retry_after_then_goes_on(fake_hubspot, sleeps):
    fake_hubspot.fail(429, headers={"Retry-After": "3"})
    assert client(fake_hubspot).post(SEARCH, json={"limit": 1})["total"] == 0
    assert sleeps == [3.0]


def test_429_without_retry_after_uses_the_rate_limit_interval(fake_hubspot, sleeps):
    fake_hubspot.fail(429, headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                                    "X-HubSpot-RateLimit-Remaining": "0"})  # fmt: skip
    client(fake_hubspot).post(SEARCH, json={})
    assert sleeps == [10.0]


def test_5xx_backs_off_exponentially_then_succeeds(fake_hubspot, sleeps):
    fake_hubspot.fail(500, times=2)
    client(fake_hubspot).post(SEARCH, json={})
    assert [int(s) for s in sleeps] == [1, 2]
    assert len(fake_hubspot.requests) == 3


def test_5xx_until_the_last_attempt_is_a_retryable_error(fake_hubspot, sleeps):
    fake_hubspot.fail(502, times=5)
    with pytest.raises(ConnectorError) as caught:
        client(fake_hubspot, max_attempts=3).post(SEARCH, json={})
    assert caught.value.retryable
    assert str(caught.value) == f"HubSpot answered 502 (POST {SEARCH}); gave up after 3 attempts"


def test_a_timeout_is_retried_then_reported(fake_hubspot, sleeps):
    fake_hubspot.fail(200, times=2, delay=0.5)
    with pytest.raises(ConnectorError) as caught:
        client(fake_hubspot, max_attempts=2, timeout=(1, 0.2)).post(SEARCH, json={})
    assert caught.value.retryable and "timed out" in str(caught.value)


def test_401_fails_at_once_without_retrying_and_never_shows_the_token(fake_hubspot, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    fake_hubspot.token = "the-right-one"
    with pytest.raises(ConnectorError) as caught:
        client(fake_hubspot).post(SEARCH, json={})
    assert not caught.value.retryable
    assert "token rejected" in str(caught.value)
    assert len(fake_hubspot.requests) == 1 and sleeps == []
    assert TOKEN not in caplog.text and TOKEN not in str(caught.value)


def test_403_says_missing_scopes(fake_hubspot, sleeps):
    fake_hubspot.missing_scopes = True
    with pytest.raises(ConnectorError) as caught:
        client(fake_hubspot).post(SEARCH, json={})
    assert not caught.value.retryable
    assert "missing scopes" in str(caught.value)
    assert len(fake_hubspot.requests) == 1


def test_an_error_body_echoing_the_token_is_scrubbed(fake_hubspot, sleeps, monkeypatch):
    def echo(method, path, query, body):
        return 400, {}, {"message": f"bad request with token {TOKEN}"}

    monkeypatch.setattr(fake_hubspot, "handle", echo)
    with pytest.raises(ConnectorError) as caught:
        client(fake_hubspot).post(SEARCH, json={})
    assert TOKEN not in str(caught.value) and "[token]" in str(caught.value)


def test_an_unreachable_server_is_a_retryable_error(sleeps):
    unreachable = HttpClient(base_url="http://127.0.0.1:9", token=TOKEN, service="HubSpot", max_attempts=2)
    with pytest.raises(ConnectorError) as caught:
        unreachable.get("/crm/v3/objects/companies")
    assert caught.value.retryable and "could not be reached" in str(caught.value)


def test_a_proxy_from_the_environment_is_read_once_and_used(fake_hubspot, monkeypatch, sleeps):
    # The fake serves a proxied request too (its request line carries the absolute URL).
    monkeypatch.setenv("HTTP_PROXY", fake_hubspot.url)
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    through_proxy = HttpClient(base_url="http://hubspot.invalid", token=TOKEN, service="HubSpot", max_attempts=1)
    monkeypatch.delenv("HTTP_PROXY")  # read when the client was made, not per request
    assert through_proxy.post(SEARCH, json={"limit": 1})["total"] == 0
    assert fake_hubspot.paths() == [SEARCH]
