"""The worker's warm-up of the pages after a refresh (dashboards.warm): what it stores is what the pages
and the API read for their default periods, once per refresh that changed something, and nothing when
the cache is not shared with the web processes."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Event
from cxmetrics.demo import seed_demo
from cxmetrics.tests.factories import cx_manager
from dashboards import warm
from dashboards.tasks import dashboards_warm_task
from metrics import complaints, customers, drivers, loop, survival, value
from metrics.refresh import metrics_refresh
from metrics.tests.factories import event

# Every computation kept until the next refresh: after a warm-up, the default views call none of them.
KEPT_COMPUTATIONS = (
    (survival, "_retention"),
    (drivers, "_estimated"),
    (loop, "_loop_closure_rate"),
    (loop, "_loop_outcome"),
    (complaints, "_after_incident"),
    (customers, "_referrals"),
    (customers, "_top_advocates"),
    (value, "_lifetime"),
)
PAGES = ("dashboards-surveys", "dashboards-value", "dashboards-follow-up")


@pytest.fixture
def demo(db):
    seed_demo(customers=200, months=12, seed=3)
    metrics_refresh()


@pytest.fixture
def shared_cache(monkeypatch):
    """The test process's memory cache stands for a shared one (Redis) between worker and web."""
    monkeypatch.setattr(warm, "shares_cache", lambda: True)


@pytest.fixture
def manager_client(client, db):
    client.force_login(cx_manager())
    return client


def _forbid_kept_computations(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("computed on a page request instead of read from what the worker stored")

    for module, name in KEPT_COMPUTATIONS:
        monkeypatch.setattr(module, name, refuse)


def test_after_a_warm_up_the_default_pages_and_api_compute_no_kept_estimate(
    demo, shared_cache, manager_client, monkeypatch
):
    assert dashboards_warm_task() == ["surveys", "value", "follow_up", "api"]
    _forbid_kept_computations(monkeypatch)
    for name in PAGES:
        assert manager_client.get(reverse(name)).status_code == 200, name
    assert manager_client.get(reverse("dashboards-api-metrics")).status_code == 200
    # Another period is not warmed: the page computes it (and so the guard above can fail).
    with pytest.raises(AssertionError, match="computed on a page request"):
        manager_client.get(reverse("dashboards-value"), {"preset": "year"})


def test_it_runs_once_per_refresh_that_changed_something(demo, shared_cache, monkeypatch):
    assert warm.warm_pages()
    assert warm.warm_pages() == []  # nothing changed: one query and one cache read
    metrics_refresh()  # nothing new to take in: the figures stay valid
    assert warm.warm_pages() == []
    customer = Customer.objects.filter(lost_at__isnull=True).first()
    event(Event.Type.REFERRAL, customer, timezone.now() - timedelta(days=1))
    metrics_refresh()
    assert warm.warm_pages() == ["surveys", "value", "follow_up", "api"]


def test_with_a_cache_per_process_it_does_nothing(demo):
    assert settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")
    assert warm.shares_cache() is False
    assert warm.warm_pages() == []
    assert cache.get(warm.WARMED_KEY) is None


def test_with_redis_as_the_cache_the_pages_read_what_it_stored(demo, redis_url, settings, manager_client, monkeypatch):
    # A database of its own, so that clearing it touches no other test's or service's keys.
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": urlparse(redis_url)._replace(path="/12").geturl(),
        },
    }
    cache.clear()
    try:
        assert warm.shares_cache() is True
        assert warm.warm_pages() == ["surveys", "value", "follow_up", "api"]
        _forbid_kept_computations(monkeypatch)
        assert manager_client.get(reverse("dashboards-value")).status_code == 200
    finally:
        cache.clear()


def test_without_data_or_a_refresh_it_does_nothing(db, shared_cache):
    assert warm.warm_pages() == []


def test_the_beat_runs_it_on_the_metrics_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["dashboards-warm"]
    assert entry["task"] == "dashboards.tasks.dashboards_warm_task"
    assert settings.CELERY_TASK_ROUTES["dashboards.tasks.*"] == {"queue": "metrics"}
