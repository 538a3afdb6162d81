"""One attempt at a delivery against a real HTTP receiver on loopback: each answer and what it leads to."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from webhooks import services
from webhooks.models import Webhook, WebhookDelivery
from webhooks.signing import signature_valid

pytestmark = pytest.mark.django_db


def deliver(webhook: Webhook, key: str = "rule:1:response:1", **body) -> WebhookDelivery:
    return services.webhook_deliver(webhook=webhook, event="alert.triggered", key=key, body=body, text="Detractor")


def attempt(delivery: WebhookDelivery) -> WebhookDelivery:
    services.webhook_delivery_attempt(delivery_id=delivery.pk)
    return WebhookDelivery.objects.get(pk=delivery.pk)


def make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_2xx_delivers_a_signed_body_the_receiver_can_verify(receiver, make_webhook, queued):
    webhook, secret = make_webhook()
    delivery = attempt(deliver(webhook, nps=2, customer="ACME"))
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered", 1, 200, ""
    )  # fmt: skip
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    [request] = receiver.requests
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-CXMetrics-Event"] == "alert.triggered"
    assert headers["X-CXMetrics-Delivery"] == str(delivery.pk)
    assert abs(int(headers["X-CXMetrics-Timestamp"]) - time.time()) < 5
    assert signature_valid(secret=secret, timestamp=headers["X-CXMetrics-Timestamp"], body=request.body,
                           header=headers["X-CXMetrics-Signature"], now=time.time())  # fmt: skip
    # Any change to the body, the timestamp or the secret breaks it.
    assert not signature_valid(secret=secret, timestamp=headers["X-CXMetrics-Timestamp"], body=request.body + b" ",
                               header=headers["X-CXMetrics-Signature"], now=time.time())  # fmt: skip
    assert not signature_valid(secret="whsec_other", timestamp=headers["X-CXMetrics-Timestamp"], body=request.body,
                               header=headers["X-CXMetrics-Signature"], now=time.time())  # fmt: skip
    assert not signature_valid(secret=secret, timestamp=headers["X-CXMetrics-Timestamp"], body=request.body,
                               header=headers["X-CXMetrics-Signature"], now=time.time() + 600)  # fmt: skip
    document = json.loads(request.body)
    assert document["id"] == delivery.pk and document["data"] == {"nps": 2, "customer": "ACME"}
    assert document["text"] == "Detractor"


def test_the_documented_receiver_snippet_verifies_a_delivery(receiver, make_webhook, queued):
    """The Python snippet of docs/webhooks.md, run as it is printed there."""
    from django.conf import settings

    webhook, secret = make_webhook()
    attempt(deliver(webhook))
    [request] = receiver.requests
    doc = (settings.BASE_DIR / "docs" / "webhooks.md").read_text()
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(snippet, namespace)
    assert namespace["verify"](secret, request.headers, request.body) is True
    assert namespace["verify"](secret, request.headers, request.body.replace(b"Detractor", b"Promoter")) is False


def test_a_delivered_one_is_not_sent_again(receiver, make_webhook, queued):
    webhook, _ = make_webhook()
    delivery = attempt(deliver(webhook))
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "skipped"
    assert len(receiver.requests) == 1


def test_5xx_is_retried_with_exponential_back_off_then_fails(
    receiver, make_webhook, queued, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    receiver.plan(500, times=4, body=b"upstream down")
    webhook, _ = make_webhook()
    delivery = deliver(webhook)
    waits = []
    for number in range(1, 4):
        before = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            delivery = attempt(delivery)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", number, 500)
        assert delivery.last_error == "HTTP 500: upstream down"
        waits.append((delivery.next_attempt_at - before).total_seconds())
        make_due(delivery)
    # 60 s doubled per failure, plus up to a tenth of jitter.
    for wait, base in zip(waits, [60, 120, 240], strict=True):
        assert base <= wait <= base * 1.1 + 1, waits
    # Each retry within ten minutes is queued with its countdown (a second late for clock skew).
    countdowns = [countdown for _, countdown in queued if countdown is not None]
    assert countdowns == pytest.approx([wait + 1 for wait in waits], abs=0.5)
    delivery = attempt(delivery)
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert delivery.last_error == "Gave up after 4 attempts. Last: HTTP 500: upstream down"
    assert delivery.next_attempt_at is None
    assert len(receiver.requests) == 4
    assert Webhook.objects.get(pk=webhook.pk).active  # failures do not disable a webhook; only 410 does


def test_a_retry_further_off_than_a_countdown_is_left_to_the_sweep(
    receiver, make_webhook, queued, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_FIRST_SECONDS = 900
    receiver.plan(503)
    webhook, _ = make_webhook()
    delivery = deliver(webhook)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = attempt(delivery)
    assert delivery.status == "pending" and delivery.queued_at is None
    assert queued == []


def test_a_retry_before_its_time_does_nothing(receiver, make_webhook, queued):
    receiver.plan(500)
    webhook, _ = make_webhook()
    delivery = attempt(deliver(webhook))
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "skipped"
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(("retry_after", "expected"), [("120", 120), ("7200", 3600), ("soon", None)])
def test_429_honours_retry_after(receiver, make_webhook, queued, retry_after, expected):
    receiver.plan(429, headers={"Retry-After": retry_after})
    webhook, _ = make_webhook()
    before = timezone.now()
    delivery = attempt(deliver(webhook))
    assert (delivery.status, delivery.last_status_code) == ("pending", 429)
    wait = (delivery.next_attempt_at - before).total_seconds()
    if expected is None:  # unreadable: the ordinary back-off
        assert 60 <= wait <= 67
    else:  # at most WEBHOOK_RETRY_MAX_SECONDS (3600 here)
        assert expected <= wait <= expected + 1


def test_429_retry_after_as_an_http_date(receiver, make_webhook, queued):
    from email.utils import format_datetime

    receiver.plan(429, headers={"Retry-After": format_datetime(timezone.now() + timedelta(seconds=300), usegmt=True)})
    webhook, _ = make_webhook()
    before = timezone.now()
    delivery = attempt(deliver(webhook))
    assert 295 <= (delivery.next_attempt_at - before).total_seconds() <= 301


def test_a_timeout_is_retried(receiver, make_webhook, queued):
    receiver.plan(200, delay=2.5)  # the client waits 1 s (WEBHOOK_TIMEOUT_SECONDS in these tests)
    webhook, _ = make_webhook()
    delivery = attempt(deliver(webhook))
    assert (delivery.status, delivery.last_status_code) == ("pending", None)
    assert delivery.last_error == "no answer within 1 s"
    make_due(delivery)
    assert attempt(delivery).status == "delivered"


def test_a_refused_connection_is_retried(make_webhook, queued):
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    webhook, _ = make_webhook(url=f"http://127.0.0.1:{port}/hook")
    delivery = attempt(deliver(webhook))
    assert delivery.status == "pending" and delivery.last_error.startswith("could not connect:")
    assert "refused" in delivery.last_error.lower()


def test_410_disables_the_webhook_and_marks_the_delivery_gone(receiver, make_webhook, queued):
    receiver.plan(410, body=b"no_service")
    webhook, _ = make_webhook()
    first = deliver(webhook, key="a")
    second = deliver(webhook, key="b")
    first = attempt(first)
    assert (first.status, first.last_status_code) == ("gone", 410)
    webhook.refresh_from_db()
    assert not webhook.active and webhook.disabled_at is not None
    assert webhook.disabled_reason == f"The receiver answered 410 Gone to delivery {first.pk}: no_service"
    # What was queued before is not sent, and says why; nothing new is accepted.
    second = attempt(second)
    assert (second.status, second.attempts) == ("failed", 0)
    assert second.last_error.startswith("Not sent: the webhook was disabled: The receiver answered 410 Gone")
    assert services.webhook_deliver(webhook=webhook, event="e", key="c", body={}) is None
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_fail_at_once(receiver, make_webhook, queued, status, django_capture_on_commit_callbacks):
    receiver.plan(status, body=b"invalid_payload")
    webhook, _ = make_webhook()
    delivery = deliver(webhook)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = attempt(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, status)
    assert delivery.last_error == f"HTTP {status} (refused, not retried): invalid_payload"
    assert queued == [] and Webhook.objects.get(pk=webhook.pk).active


def test_a_redirect_is_not_followed(receiver, make_webhook, queued):
    receiver.plan(301, headers={"Location": "https://elsewhere.example.com/hook"})
    webhook, _ = make_webhook()
    delivery = attempt(deliver(webhook))
    assert (delivery.status, delivery.last_status_code) == ("failed", 301)
    assert "https://elsewhere.example.com/hook" in delivery.last_error
    assert len(receiver.requests) == 1


def test_a_secret_no_key_decrypts_fails_the_delivery_with_a_clear_message(receiver, make_webhook, queued):
    webhook, _ = make_webhook()
    Webhook.objects.filter(pk=webhook.pk).update(secret_encrypted="not-encrypted")
    delivery = attempt(deliver(webhook))
    assert delivery.status == "failed"
    assert delivery.last_error == (
        "Not sent: the webhook's secret the secret cannot be decrypted with the configured keys; rotate the secret."
    )
    assert receiver.requests == []


def test_retry_now_gives_a_failed_delivery_a_fresh_round(
    receiver, make_webhook, queued, django_capture_on_commit_callbacks
):
    receiver.plan(404)
    webhook, _ = make_webhook()
    delivery = attempt(deliver(webhook))
    assert delivery.status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_deliveries_retry(delivery_ids=[delivery.pk]) == 1
    assert queued == [(delivery.pk, None)]
    delivery = attempt(delivery)
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    # Nothing else is retried: a delivered one, or one of a disabled webhook.
    assert services.webhook_deliveries_retry(delivery_ids=[delivery.pk]) == 0


def test_retry_now_skips_the_deliveries_of_a_disabled_webhook(receiver, make_webhook, queued):
    receiver.plan(410)
    webhook, _ = make_webhook()
    delivery = attempt(deliver(webhook))
    assert services.webhook_deliveries_retry(delivery_ids=[delivery.pk]) == 0
    services.webhook_enable(webhook=webhook)
    assert services.webhook_deliveries_retry(delivery_ids=[delivery.pk]) == 1
    assert attempt(delivery).status == "delivered"


def test_a_test_delivery_reaches_the_receiver(receiver, make_webhook, queued):
    webhook, _ = make_webhook(name="Ops")
    delivery = attempt(services.webhook_send_test(webhook=webhook))
    assert delivery.status == "delivered"
    document = json.loads(receiver.requests[0].body)
    assert document["event"] == "webhook.test" and "Ops" in document["text"]
