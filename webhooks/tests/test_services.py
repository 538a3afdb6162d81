"""Creating, changing and disabling webhooks; queuing deliveries once per key."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet

from core.secrets import secret_decrypt
from webhooks import services
from webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db


def test_create_stores_the_secret_encrypted_and_returns_it_once():
    webhook, secret = services.webhook_create(name=" Ops ", url="https://hooks.example.com/x")
    assert secret.startswith("whsec_") and len(secret) > 40
    stored = Webhook.objects.get(pk=webhook.pk)
    assert stored.name == "Ops" and stored.active
    assert secret not in stored.secret_encrypted
    assert secret_decrypt(stored.secret_encrypted) == secret == stored.secret


def test_rotate_replaces_the_secret():
    webhook, first = services.webhook_create(name="Ops", url="https://hooks.example.com/x")
    second = services.webhook_secret_rotate(webhook=webhook)
    assert second != first
    assert Webhook.objects.get(pk=webhook.pk).secret == second


@pytest.mark.parametrize(
    ("url", "local_http", "message"),
    [
        ("https://hooks.slack.com/services/T/B/X", False, None),
        ("http://hooks.example.com/x", True, "must start with https://"),
        ("http://127.0.0.1:9000/x", False, "WEBHOOK_ALLOW_LOCAL_HTTP"),
        ("http://127.0.0.1:9000/x", True, None),
        ("http://localhost/x", True, None),
        ("ftp://example.com/x", True, "starting with https://"),
        ("https://", True, "starting with https://"),
        ("", True, "starting with https://"),
        ("https://[::1/x", True, "valid URL"),
    ],
)
def test_url_rules(settings, url, local_http, message):
    settings.WEBHOOK_ALLOW_LOCAL_HTTP = local_http
    error = services.webhook_url_error(url)
    if message is None:
        assert error is None
    else:
        assert message in error
        with pytest.raises(services.WebhookError, match=re.escape(message)):
            services.webhook_create(name="x", url=url)


def test_update_checks_the_url_and_name():
    webhook, _ = services.webhook_create(name="Ops", url="https://a.example.com/")
    with pytest.raises(services.WebhookError, match="needs a name"):
        services.webhook_update(webhook=webhook, name=" ", url="https://b.example.com/")
    services.webhook_update(webhook=webhook, name="Support", url="https://b.example.com/")
    assert Webhook.objects.filter(pk=webhook.pk, name="Support", url="https://b.example.com/").exists()


def test_deliver_creates_one_row_per_key_and_queues_once(queued, django_capture_on_commit_callbacks):
    webhook, _ = services.webhook_create(name="Ops", url="https://hooks.example.com/x")
    with django_capture_on_commit_callbacks(execute=True):
        first = services.webhook_deliver(webhook=webhook, event="alert.triggered", key="rule:1:response:9",
                                         body={"nps": 2}, text="Detractor")  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        again = services.webhook_deliver(webhook=webhook, event="alert.triggered", key="rule:1:response:9",
                                         body={"nps": 3})  # fmt: skip
    assert again.pk == first.pk
    assert queued == [(first.pk, None)]
    stored = WebhookDelivery.objects.get()
    assert (stored.status, stored.body, stored.text, stored.attempts) == ("pending", {"nps": 2}, "Detractor", 0)


def test_the_same_key_on_another_webhook_is_another_delivery(queued):
    one, _ = services.webhook_create(name="One", url="https://hooks.example.com/1")
    two, _ = services.webhook_create(name="Two", url="https://hooks.example.com/2")
    a = services.webhook_deliver(webhook=one, event="e", key="k", body={})
    b = services.webhook_deliver(webhook=two, event="e", key="k", body={})
    assert a.pk != b.pk and WebhookDelivery.objects.count() == 2


def test_nothing_is_queued_when_the_callers_transaction_rolls_back(queued, django_capture_on_commit_callbacks):
    webhook, _ = services.webhook_create(name="Ops", url="https://hooks.example.com/x")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            from django.db import transaction

            with transaction.atomic():
                services.webhook_deliver(webhook=webhook, event="e", key="k", body={})
                raise RuntimeError("the caller failed")
        except RuntimeError:
            pass
    assert callbacks == [] and queued == [] and not WebhookDelivery.objects.exists()


def test_a_disabled_webhook_gets_nothing(queued):
    webhook, _ = services.webhook_create(name="Ops", url="https://hooks.example.com/x")
    services.webhook_disable(webhook=webhook, reason="testing")
    assert services.webhook_deliver(webhook=webhook, event="e", key="k", body={}) is None
    assert not WebhookDelivery.objects.exists()
    services.webhook_enable(webhook=webhook)
    assert Webhook.objects.get(pk=webhook.pk).disabled_reason == ""
    assert services.webhook_deliver(webhook=webhook, event="e", key="k", body={}) is not None


def test_a_webhook_disabled_since_the_caller_loaded_it_gets_nothing(queued):
    webhook, _ = services.webhook_create(name="Ops", url="https://hooks.example.com/x")
    services.webhook_disable(webhook=Webhook.objects.get(pk=webhook.pk), reason="410 from the receiver")
    assert webhook.active  # the caller's copy
    assert services.webhook_deliver(webhook=webhook, event="e", key="k", body={}) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event": "", "key": "k", "body": {}}, "event must be"),
        ({"event": "alert\r\nX-Evil: 1", "key": "k", "body": {}}, "event must be"),
        ({"event": "e", "key": "k", "body": {}, "text": 3}, "text must be a string"),
        ({"event": "e", "key": "k", "body": {"comment": "a\x00b"}}, "NUL character"),
        ({"event": "e" * 101, "key": "k", "body": {}}, "event must be"),
        ({"event": "e", "key": "", "body": {}}, "key must be"),
        ({"event": "e", "key": "k" * 201, "body": {}}, "key must be"),
        ({"event": "e", "key": "k", "body": [1]}, "body must be a dict, not list"),
        ({"event": "e", "key": "k", "body": {"x": object()}}, "cannot be written as JSON"),
        ({"event": "e", "key": "k", "body": {"x": "y" * 70_000}}, "at most 65536"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(queued, kwargs, message):
    webhook, _ = services.webhook_create(name="Ops", url="https://hooks.example.com/x")
    with pytest.raises(services.WebhookError, match=message):
        services.webhook_deliver(webhook=webhook, **kwargs)
    assert not WebhookDelivery.objects.exists()


def test_the_payload_is_the_documented_document(queued):
    webhook, _ = services.webhook_create(name="Ops", url="https://hooks.example.com/x")
    delivery = services.webhook_deliver(
        webhook=webhook, event="alert.triggered", key="k",
        body={"score": Decimal("2.5"), "at": dt.date(2026, 1, 2), "comment": "¡Mal! <!channel>"},
        text="Detractor said <!channel> & left",
    )  # fmt: skip
    delivery.refresh_from_db()
    document = json.loads(services.webhook_payload(delivery))
    assert list(document) == ["event", "id", "created_at", "text", "data"]
    assert document["event"] == "alert.triggered" and document["id"] == delivery.pk
    assert document["created_at"].endswith("Z")
    assert document["text"] == "Detractor said &lt;!channel&gt; &amp; left"
    assert document["data"] == {"score": "2.5", "at": "2026-01-02", "comment": "¡Mal! <!channel>"}
    assert services.webhook_payload(delivery) == services.webhook_payload(delivery)


def test_without_text_the_event_names_itself(queued):
    webhook, _ = services.webhook_create(name="Ops", url="https://hooks.example.com/x")
    delivery = services.webhook_deliver(webhook=webhook, event="alert.triggered", key="k", body={})
    assert delivery.text == "CX Metrics: alert.triggered"


def test_secrets_rotate_re_encrypts_with_the_first_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.SECRETS_KEYS = [old]
    kept, secret = services.webhook_create(name="Kept", url="https://a.example.com/")
    lost, _ = services.webhook_create(name="Lost", url="https://b.example.com/")
    Webhook.objects.filter(pk=lost.pk).update(secret_encrypted=Fernet(Fernet.generate_key()).encrypt(b"x").decode())
    settings.SECRETS_KEYS = [new, old]
    result = services.webhook_secrets_rotate()
    assert (result.rotated, result.undecryptable) == (1, ["Lost"])
    settings.SECRETS_KEYS = [new]
    assert Webhook.objects.get(pk=kept.pk).secret == secret


def test_the_secrets_rotate_command_takes_webhooks_too(settings, capsys):
    from django.core.management import CommandError, call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.SECRETS_KEYS = [old]
    kept, secret = services.webhook_create(name="Kept", url="https://a.example.com/")
    lost, _ = services.webhook_create(name="Lost", url="https://b.example.com/")
    Webhook.objects.filter(pk=lost.pk).update(secret_encrypted=Fernet(Fernet.generate_key()).encrypt(b"x").decode())
    settings.SECRETS_KEYS = [new, old]
    with pytest.raises(CommandError, match=r"1 secret\(s\) cannot be decrypted .*\(webhooks: Lost\)"):
        call_command("secrets_rotate")
    assert "1 secret(s) re-encrypted" in capsys.readouterr().out
    settings.SECRETS_KEYS = [new]
    assert Webhook.objects.get(pk=kept.pk).secret == secret


def test_a_backslash_u0000_in_text_is_not_a_nul(queued):
    webhook, _ = services.webhook_create(name="Ops", url="https://hooks.example.com/x")
    delivery = services.webhook_deliver(webhook=webhook, event="e", key="k", body={"path": "C:\\u0000"})
    assert WebhookDelivery.objects.get(pk=delivery.pk).body == {"path": "C:\\u0000"}


def test_long_text_is_shortened_for_chat_tools(queued):
    webhook, _ = services.webhook_create(name="Ops", url="https://hooks.example.com/x")
    delivery = services.webhook_deliver(webhook=webhook, event="e", key="k", body={}, text="x" * 5000)
    assert len(delivery.text) == 4000 and delivery.text.endswith("…")
