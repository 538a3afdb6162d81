"""The public link's rate limit is taken before an answer is accepted, atomically."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from surveys.models import Response
from surveys.tests.factories import relational_survey, valid_answers

pytestmark = pytest.mark.django_db


def test_submissions_that_store_nothing_do_not_use_up_the_hour(client, settings):
    settings.SURVEY_PUBLIC_SUBMISSIONS_PER_HOUR = 2
    survey = relational_survey(allow_public_link=True)
    path = reverse("surveys-public", args=[survey.slug])
    for _ in range(5):
        assert client.post(path, {}, REMOTE_ADDR="10.0.0.9").status_code == 200  # invalid: shown again
    assert client.post(path, valid_answers(survey), REMOTE_ADDR="10.0.0.9").status_code == 302
    assert client.post(path, valid_answers(survey), REMOTE_ADDR="10.0.0.9").status_code == 302
    assert client.post(path, valid_answers(survey), REMOTE_ADDR="10.0.0.9").status_code == 429
    assert client.post(path, {}, REMOTE_ADDR="10.0.0.9").status_code == 429
    assert Response.objects.count() == 2


@pytest.fixture(params=["locmem", "redis"])
def shared_cache(request, settings):
    """The local-memory cache (one process) and Redis (CACHE_URL in production) both count atomically."""
    if request.param == "redis":
        request.getfixturevalue("redis_url")
        settings.CACHES = {
            **settings.CACHES,
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": "redis://127.0.0.1:6379/13", "KEY_PREFIX": "test-rate-limit"},
        }  # fmt: skip
    from django.core.cache import cache

    cache.clear()
    yield request.param
    cache.clear()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_anonymous_posts_store_no_more_than_the_limit(postgres_db, shared_cache, settings):
    settings.SURVEY_PUBLIC_SUBMISSIONS_PER_HOUR = 10
    survey = relational_survey(allow_public_link=True)
    path = reverse("surveys-public", args=[survey.slug])
    data = valid_answers(survey)
    posts = 30
    barrier = threading.Barrier(posts)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def post():
        try:
            barrier.wait()
            statuses.append(Client().post(path, data, REMOTE_ADDR="10.1.1.1").status_code)
        except BaseException as exc:  # surfaced below: an exception in a thread would pass silently
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(statuses) == [302] * 10 + [429] * 20
    assert Response.objects.filter(survey=survey).count() == 10
