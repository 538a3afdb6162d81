"""A real `celery worker` process on the Redis broker delivering to a real receiver.

The worker and the test share the PostgreSQL test database (an in-memory SQLite database is invisible to
another process), so this needs DATABASE_URL=postgres://... and Redis; with CI=true a missing one fails.
"""

from __future__ import annotations

import json
import time

import pytest

from cxmetrics.tests.worker import wait_for
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.signing import signature_valid
from webhooks.tasks import webhook_delivery_task

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_queue(worker_factory, monkeypatch):
    """A real worker on a queue of its own (so no other worker takes our tasks); the services' tasks go there."""
    worker = worker_factory(WEBHOOK_ALLOW_LOCAL_HTTP="true")

    def send(delivery_id: int, countdown: float | None = None) -> None:
        with webhook_delivery_task.app.connection_for_write(worker.broker_url) as connection:
            webhook_delivery_task.apply_async(args=[delivery_id], countdown=countdown, queue=worker.queue,
                                              connection=connection)  # fmt: skip

    monkeypatch.setattr(services, "_queue", send)
    yield send
    worker.stop()


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
