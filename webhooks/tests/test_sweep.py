"""The sweep: deliveries left by a dead worker or a lost task are taken back, each exactly once; and a
delivery is never sent by two workers at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from webhooks import http, services
from webhooks.models import WebhookDelivery

STALE = timedelta(seconds=300)  # WEBHOOK_STALE_SECONDS in these tests


def deliver(webhook, key: str = "k") -> WebhookDelivery:
    return services.webhook_deliver(webhook=webhook, event="alert.triggered", key=key, body={"n": 1})


def killed_mid_attempt(delivery: WebhookDelivery, *, ago: timedelta) -> None:
    """What a worker killed during the POST leaves: the row claimed, no outcome."""
    claimed_at = timezone.now() - ago
    assert services._claim(delivery.pk, timezone.now())
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_at=claimed_at)


@pytest.mark.django_db
def test_a_delivery_left_by_a_dead_worker_is_queued_again_once(
    receiver, make_webhook, queued, django_capture_on_commit_callbacks
):
    webhook, _ = make_webhook()
    delivery = deliver(webhook)
    killed_mid_attempt(delivery, ago=STALE + timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        result = services.webhooks_sweep()
        again = services.webhooks_sweep()
    assert (result.requeued_stale, result.queued_due) == (1, 1)
    assert (again.requeued_stale, again.queued_due) == (0, 0)
    assert queued == [(delivery.pk, None)]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.claimed_at) == ("pending", 1, None)
    assert delivery.last_error == (
        "The worker stopped during attempt 1 (no outcome recorded); the receiver may have got it."
    )
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "delivered"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_error) == (2, "")
    assert len(receiver.requests) == 1  # the killed attempt never reached this receiver


@pytest.mark.django_db
def test_a_delivery_still_within_the_stale_time_is_left_to_its_worker(make_webhook, queued):
    webhook, _ = make_webhook()
    delivery = deliver(webhook)
    killed_mid_attempt(delivery, ago=STALE - timedelta(seconds=5))
    assert services.webhooks_sweep().requeued_stale == 0
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "delivering"


@pytest.mark.django_db
def test_a_dead_workers_last_attempt_fails_the_delivery(make_webhook, queued, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    webhook, _ = make_webhook()
    delivery = deliver(webhook)
    killed_mid_attempt(delivery, ago=STALE + timedelta(seconds=1))
    result = services.webhooks_sweep()
    assert (result.failed_stale, result.requeued_stale, result.queued_due) == (1, 0, 0)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_error.startswith("The worker stopped during attempt 1")


@pytest.mark.django_db
def test_a_due_delivery_whose_task_was_lost_is_queued_again(make_webhook, queued, django_capture_on_commit_callbacks):
    webhook, _ = make_webhook()
    fresh = deliver(webhook, key="fresh")  # its task was queued just now: left alone
    lost = deliver(webhook, key="lost")
    WebhookDelivery.objects.filter(pk=lost.pk).update(queued_at=timezone.now() - STALE - timedelta(seconds=1))
    later = deliver(webhook, key="later")  # a retry the sweep queues when due
    WebhookDelivery.objects.filter(pk=later.pk).update(
        queued_at=None, next_attempt_at=timezone.now() + timedelta(minutes=30)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhooks_sweep().queued_due == 1
        assert services.webhooks_sweep().queued_due == 0
    assert queued == [(lost.pk, None)]
    WebhookDelivery.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhooks_sweep().queued_due == 1
    assert queued == [(lost.pk, None), (later.pk, None)]
    assert WebhookDelivery.objects.get(pk=fresh.pk).status == "pending"


@pytest.mark.django_db
def test_an_outcome_arriving_after_the_sweep_took_the_delivery_back_is_dropped(
    receiver, make_webhook, queued, monkeypatch
):
    """A worker slower than the stale time: meanwhile the sweep requeued the delivery and another worker
    delivered it. The slow worker's late failure must not turn "delivered" back into "pending"."""
    webhook, _ = make_webhook()
    delivery = deliver(webhook)
    real_post = http.post

    def slow_then_failing(url, **kwargs):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_at=timezone.now() - STALE * 2)
        services.webhooks_sweep()
        monkeypatch.setattr(http, "post", real_post)
        assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "delivered"
        return http.HttpAnswer(status=500, headers={}, excerpt="too late")

    monkeypatch.setattr(http, "post", slow_then_failing)
    services.webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_delivery_send_it_once(postgres_db, receiver, make_webhook, queued):
    receiver.plan(200, delay=0.3)
    webhook, _ = make_webhook()
    delivery = deliver(webhook)
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def worker() -> None:
        try:
            start.wait()
            outcomes.append(services.webhook_delivery_attempt(delivery_id=delivery.pk))
        finally:
            db_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["delivered"] + ["skipped"] * 7
    assert len(receiver.requests) == 1
