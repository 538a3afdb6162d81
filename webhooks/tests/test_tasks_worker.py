"""A real `celery worker` process on the Redis broker delivering to a real receiver.

The worker and the test share the PostgreSQL test database (an in-memory SQLite database is invisible to
another process), so this needs DATABASE_URL=postgres://... and Redis; with CI=true a missing one fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection as db_connection

from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.signing import signature_valid
from webhooks.tasks import webhook_delivery_task

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a worker that must use the test database."""
    db = db_connection.settings_dict
    auth = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else "")
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "cxmetrics.settings.test", "DATABASE_URL": url, **extra}


@pytest.fixture
def broker_url(redis_url) -> str:
    configured = os.environ.get("CELERY_BROKER_URL", "")
    return configured if configured.startswith("redis://") else redis_url


@pytest.fixture
def worker_queue(broker_url, postgres_db, monkeypatch):
    """A worker on a queue of its own (so no other worker takes our tasks); the services' tasks go there."""
    queue = f"webhooks-test-{uuid.uuid4().hex[:10]}"

    def send(delivery_id: int, countdown: float | None = None) -> None:
        with webhook_delivery_task.app.connection_for_write(broker_url) as connection:
            webhook_delivery_task.apply_async(args=[delivery_id], countdown=countdown, queue=queue,
                                              connection=connection)  # fmt: skip

    monkeypatch.setattr(services, "_queue", send)
    command = [
        sys.executable, "-m", "celery", "-A", "cxmetrics", "worker", "--pool=prefork", "--concurrency=2",
        "-Q", queue, "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--loglevel=INFO",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env=_subprocess_env(CELERY_BROKER_URL=broker_url, WEBHOOK_ALLOW_LOCAL_HTTP="true"),
    )  # fmt: skip
    yield send
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    import redis

    client = redis.Redis.from_url(broker_url)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_a_worker_delivers_each_key_once_even_when_its_task_is_sent_twice(worker_queue, receiver, make_webhook):
    webhook, secret = make_webhook()
    deliveries = [
        services.webhook_deliver(webhook=webhook, event="alert.triggered", key=f"rule:1:response:{n}", body={"n": n})
        for n in range(5)
    ]
    # Each was queued once as its row committed; the same keys again queue nothing. Each task is then sent a
    # second time, as a broker redelivery or a sweep might: the second finds the row claimed or delivered.
    for n in range(5):
        services.webhook_deliver(webhook=webhook, event="alert.triggered", key=f"rule:1:response:{n}", body={})
    for delivery in deliveries:
        worker_queue(delivery.pk)
    wait_for(lambda: WebhookDelivery.objects.filter(status="delivered").count() == 5, timeout=90,
             what="five delivered deliveries")  # fmt: skip
    time.sleep(1)  # the duplicate tasks have run out by now; none may have sent anything
    assert len(receiver.requests) == 5
    assert sorted(r.headers["X-CXMetrics-Delivery"] for r in receiver.requests) == sorted(str(d.pk) for d in deliveries)
    for request in receiver.requests:
        assert signature_valid(secret=secret, timestamp=request.headers["X-CXMetrics-Timestamp"], body=request.body,
                               header=request.headers["X-CXMetrics-Signature"], now=time.time())  # fmt: skip
    assert sorted(json.loads(r.body)["data"]["n"] for r in receiver.requests) == list(range(5))
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {1}
