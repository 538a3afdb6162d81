"""Webhooks in the admin: the secret shown once, the actions, the read-only delivery log."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.urls import reverse

from webhooks import services
from webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:webhooks_webhook_changelist"
DELIVERIES = "admin:webhooks_webhookdelivery_changelist"


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def action(client, url_name: str, name: str, ids: list[int]):
    return client.post(reverse(url_name), {"action": name, "_selected_action": [str(i) for i in ids]})


def test_adding_a_webhook_shows_its_secret_once(admin_client, receiver):
    response = admin_client.post(reverse("admin:webhooks_webhook_add"), {"name": "Ops", "url": receiver.url})
    assert response.status_code == 302, response.content.decode()[:2000]
    webhook = Webhook.objects.get()
    [message] = [m for m in texts(response) if "Signing secret" in m]
    secret = re.search(r"whsec_\S+", message).group(0)
    assert webhook.secret == secret
    assert secret in admin_client.get(response.url).content.decode()  # the page after saving shows it
    for page in (reverse("admin:webhooks_webhook_change", args=[webhook.pk]), reverse(CHANGELIST)):
        assert secret not in admin_client.get(page).content.decode()


def test_an_http_url_elsewhere_is_refused_with_the_reason(admin_client):
    response = admin_client.post(
        reverse("admin:webhooks_webhook_add"), {"name": "Ops", "url": "http://hooks.example.com/x"}
    )
    assert response.status_code == 200
    assert "the data would travel unencrypted" in response.content.decode()
    assert not Webhook.objects.exists()


def test_changing_the_url_keeps_the_secret(admin_client):
    webhook, secret = services.webhook_create(name="Ops", url="https://a.example.com/")
    response = admin_client.post(
        reverse("admin:webhooks_webhook_change", args=[webhook.pk]), {"name": "Ops 2", "url": "https://b.example.com/"}
    )
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert (webhook.name, webhook.url, webhook.secret) == ("Ops 2", "https://b.example.com/", secret)


def test_rotate_shows_the_new_secret(admin_client):
    webhook, old = services.webhook_create(name="Ops", url="https://a.example.com/")
    response = action(admin_client, CHANGELIST, "rotate_secret", [webhook.pk])
    [message] = [m for m in texts(response) if "Signing secret" in m]
    new = re.search(r"whsec_\S+", message).group(0)
    assert new != old and Webhook.objects.get(pk=webhook.pk).secret == new


def test_send_test_disable_and_enable(admin_client, receiver, queued):
    webhook, _ = services.webhook_create(name="Ops", url=receiver.url)
    response = action(admin_client, CHANGELIST, "send_test", [webhook.pk])
    assert "Test delivery queued for 1 webhook; see the delivery log." in texts(response)
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "webhook.test"
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "delivered"

    action(admin_client, CHANGELIST, "disable", [webhook.pk])
    webhook.refresh_from_db()
    assert not webhook.active and webhook.disabled_reason == "Disabled in the admin by admin."
    response = action(admin_client, CHANGELIST, "send_test", [webhook.pk])
    assert "1 disabled webhook skipped: enable it first." in texts(response)
    assert WebhookDelivery.objects.count() == 1
    action(admin_client, CHANGELIST, "enable", [webhook.pk])
    assert Webhook.objects.get(pk=webhook.pk).active


def test_the_delivery_log_is_read_only_and_filters(admin_client, queued):
    webhook, _ = services.webhook_create(name="Ops", url="https://a.example.com/")
    delivery = services.webhook_deliver(webhook=webhook, event="alert.triggered", key="k", body={"comment": "<b>"})
    page = admin_client.get(reverse(DELIVERIES), {"status__exact": "pending", "webhook__id__exact": webhook.pk})
    assert page.status_code == 200
    assert "alert.triggered" in page.content.decode()
    assert admin_client.get(reverse(DELIVERIES), {"status__exact": "delivered"}).context["cl"].result_count == 0
    detail = admin_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))
    assert detail.status_code == 200
    assert "&lt;b&gt;" in detail.content.decode() and "<b>" not in detail.content.decode().split("comment")[1][:20]
    assert admin_client.get(reverse("admin:webhooks_webhookdelivery_add")).status_code == 403
    response = admin_client.post(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]), {})
    assert response.status_code == 403


def test_retry_now_queues_the_failed_ones(admin_client, queued, django_capture_on_commit_callbacks):
    webhook, _ = services.webhook_create(name="Ops", url="https://a.example.com/")
    failed = services.webhook_deliver(webhook=webhook, event="e", key="a", body={})
    pending = services.webhook_deliver(webhook=webhook, event="e", key="b", body={})
    WebhookDelivery.objects.filter(pk=failed.pk).update(status="failed", attempts=8, last_error="HTTP 500")
    with django_capture_on_commit_callbacks(execute=True):
        response = action(admin_client, DELIVERIES, "retry_now", [failed.pk, pending.pk])
    assert "1 delivery queued again." in texts(response)
    assert any("1 selected delivery left as it is" in m for m in texts(response))
    assert queued == [(failed.pk, None)]
    assert WebhookDelivery.objects.get(pk=failed.pk).status == "pending"


def test_a_user_who_may_only_view_cannot_retry(client, queued):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_webhookdelivery", "view_webhook"]))
    client.force_login(user)
    webhook, _ = services.webhook_create(name="Ops", url="https://a.example.com/")
    failed = services.webhook_deliver(webhook=webhook, event="e", key="a", body={})
    WebhookDelivery.objects.filter(pk=failed.pk).update(status="failed")
    assert client.get(reverse(DELIVERIES)).status_code == 200
    action(client, DELIVERIES, "retry_now", [failed.pk])
    assert WebhookDelivery.objects.get(pk=failed.pk).status == "failed"
