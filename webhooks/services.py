"""Every write to webhooks and their deliveries, and the delivery itself (docs/webhooks.md).

A delivery is a row first: `webhook_deliver` inserts it (once per webhook and key) and queues a task when
the caller's transaction commits. The task claims the row with a conditional update, so one worker at a
time sends it; the outcome, and when to try again, is written back to the row. `webhooks_sweep` (beat)
queues again what a lost task or a dead worker left behind.
"""

from __future__ import annotations

import json
import logging
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.secrets import SecretError, secret_encrypt, secret_rotate
from webhooks import http
from webhooks.models import Webhook, WebhookDelivery
from webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
# The largest body a caller may hand over, as JSON: a webhook carries an event, not a data export.
MAX_BODY_BYTES = 64 * 1024
MAX_KEY_LENGTH = WebhookDelivery._meta.get_field("key").max_length
MAX_EVENT_LENGTH = WebhookDelivery._meta.get_field("event").max_length
# A retry due within this many seconds is queued with a countdown (on time to the second); a later one is
# left to the sweep, so no task waits unacknowledged in Redis longer than its visibility timeout.
COUNTDOWN_MAX_SECONDS = 600
# Answers worth another try: the receiver is overloaded, down or restarting.
RETRYABLE_STATUSES = {408, 425, 429}
TEST_EVENT = "webhook.test"
# Event names travel in a header: a plain dotted name, nothing a header cannot carry.
EVENT_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
# Chat tools cut longer messages (Slack advises at most 4,000 characters): longer text is shortened.
MAX_TEXT_LENGTH = 4000
# A NUL character as JSON writes it (an escaped backslash before "u0000" is text, not a NUL).
ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class WebhookError(ValueError):
    """A bad argument to a webhook service; the message says what to change."""


# --- Webhooks ---------------------------------------------------------------------------------------------


def webhook_url_error(url: object) -> str | None:
    """Why `url` cannot receive webhooks, or None. The body carries customer data, so only https://
    leaves this machine; http:// is for a receiver on this machine, where WEBHOOK_ALLOW_LOCAL_HTTP is on."""
    if not isinstance(url, str) or not url:
        return _("Enter a URL starting with https://.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return _("Enter a valid URL starting with https://.")
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host:
        if host in LOOPBACK_HOSTS and settings.WEBHOOK_ALLOW_LOCAL_HTTP:
            return None
        if host in LOOPBACK_HOSTS:
            return _("http:// is accepted for this machine only where WEBHOOK_ALLOW_LOCAL_HTTP is on; use https://.")
        return _("The URL must start with https://: the data would travel unencrypted over http://.")
    return _("Enter a URL starting with https://.")


def _checked(*, name: str, url: str) -> tuple[str, str]:
    name = (name or "").strip()
    url = (url or "").strip()
    if not name:
        raise WebhookError(_("A webhook needs a name."))
    if (error := webhook_url_error(url)) is not None:
        raise WebhookError(error)
    return name, url


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def webhook_create(*, name: str, url: str) -> tuple[Webhook, str]:
    """A new active webhook and its signing secret, which is returned here and never again."""
    name, url = _checked(name=name, url=url)
    secret = _new_secret()
    webhook = Webhook.objects.create(name=name, url=url, secret_encrypted=secret_encrypt(secret))
    return webhook, secret


def webhook_update(*, webhook: Webhook, name: str, url: str) -> Webhook:
    webhook.name, webhook.url = _checked(name=name, url=url)
    webhook.save(update_fields=["name", "url"])
    return webhook


def webhook_secret_rotate(*, webhook: Webhook) -> str:
    """A new signing secret, used from the next attempt on (no overlap: update the receiver at once)."""
    secret = _new_secret()
    webhook.secret_encrypted = secret_encrypt(secret)
    webhook.save(update_fields=["secret_encrypted"])
    return secret


def webhook_disable(*, webhook: Webhook, reason: str) -> None:
    """Stops new deliveries (webhook_deliver returns None) and fails the queued ones at their attempt."""
    now = timezone.now()
    Webhook.objects.filter(pk=webhook.pk).update(active=False, disabled_at=now, disabled_reason=reason[:500])
    webhook.active, webhook.disabled_at, webhook.disabled_reason = False, now, reason[:500]


def webhook_enable(*, webhook: Webhook) -> None:
    Webhook.objects.filter(pk=webhook.pk).update(active=True, disabled_at=None, disabled_reason="")
    webhook.active, webhook.disabled_at, webhook.disabled_reason = True, None, ""


@dataclass
class SecretsRotation:
    rotated: int = 0
    # Webhooks whose secret no configured key decrypts: left as they are.
    undecryptable: list[str] = field(default_factory=list)


def webhook_secrets_rotate() -> SecretsRotation:
    """Re-encrypt every stored signing secret with the first key of SECRETS_KEYS (key rotation)."""
    result = SecretsRotation()
    for pk, name, stored in Webhook.objects.order_by("name").values_list("pk", "name", "secret_encrypted"):
        try:
            rotated = secret_rotate(stored)
        except SecretError:
            result.undecryptable.append(name)
            continue
        # Only if unchanged since read: a secret rotated meanwhile in the admin is under the first key already.
        result.rotated += Webhook.objects.filter(pk=pk, secret_encrypted=stored).update(secret_encrypted=rotated)
    return result


# --- Deliveries -------------------------------------------------------------------------------------------


def _queue(delivery_id: int, countdown: float | None = None) -> None:
    from webhooks.tasks import webhook_delivery_task

    webhook_delivery_task.apply_async(args=[delivery_id], countdown=countdown)


def slack_escape(text: str) -> str:
    """Slack reads <…> as links and mentions (<!channel> would notify a whole channel): a customer's words
    must reach it as plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_deliver(
    *, webhook: Webhook, event: str, key: str, body: dict[str, Any], text: str | None = None
) -> WebhookDelivery | None:
    """Deliver `body` to `webhook` once per `key`, in the background, after the caller's transaction commits.

    Returns the delivery; a second call with the same key returns the existing delivery and queues nothing.
    Returns None when the webhook is disabled (nothing is stored). `text` is the one-line message chat
    tools show (Slack's "text"); without it, the event name. Raises WebhookError for a bad argument.
    """
    if not isinstance(event, str) or not EVENT_NAME.fullmatch(event) or len(event) > MAX_EVENT_LENGTH:
        raise WebhookError(
            f"event must be 1 to {MAX_EVENT_LENGTH} letters, digits and . _ : - (it is sent in a header), not {event!r}"
        )
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or "\x00" in key:
        raise WebhookError(f"key must be a non-empty string of at most {MAX_KEY_LENGTH} characters")
    if text is not None and not isinstance(text, str):
        raise WebhookError(f"text must be a string or None, not {type(text).__name__}")
    if not isinstance(body, dict):
        raise WebhookError(f"body must be a dict, not {type(body).__name__}")
    try:
        encoded = json.dumps(body, cls=DjangoJSONEncoder)
    except (TypeError, ValueError) as exc:
        raise WebhookError(f"body cannot be written as JSON: {exc}") from None
    if ESCAPED_NUL.search(encoded):
        # PostgreSQL's jsonb cannot store it, and the error would surface in the caller's transaction.
        raise WebhookError("body contains a NUL character (\\u0000), which cannot be stored")
    if (size := len(encoded.encode())) > MAX_BODY_BYTES:
        raise WebhookError(f"body is {size} bytes as JSON; at most {MAX_BODY_BYTES} are sent")
    text = f"CX Metrics: {event}" if text is None else text.replace("\x00", "")
    if len(text) > MAX_TEXT_LENGTH:
        text = text[: MAX_TEXT_LENGTH - 1] + "…"
    # Read again: a worker may have disabled it (a 410) since the caller loaded it.
    if not Webhook.objects.filter(pk=webhook.pk, active=True).exists():
        return None
    now = timezone.now()
    with transaction.atomic():
        delivery, created = WebhookDelivery.objects.get_or_create(
            webhook=webhook,
            key=key,
            defaults={
                "event": event,
                "body": body,
                "text": text,
                "next_attempt_at": now,
                "queued_at": now,
            },
        )
        if created:
            transaction.on_commit(lambda: _queue(delivery.pk))
    return delivery


def webhook_send_test(*, webhook: Webhook) -> WebhookDelivery | None:
    """A test delivery (event "webhook.test"), each with a key of its own so every click sends one."""
    return webhook_deliver(
        webhook=webhook,
        event=TEST_EVENT,
        key=f"test:{secrets.token_hex(8)}",
        body={"webhook": webhook.name},
        text=f"CX Metrics: test delivery to the webhook “{webhook.name}”. It works.",
    )


def webhook_payload(delivery: WebhookDelivery) -> bytes:
    """The exact bytes POSTed (and signed): the same at every attempt of a delivery."""
    document = {
        "event": delivery.event,
        "id": delivery.pk,
        "created_at": delivery.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "text": slack_escape(delivery.text),
        "data": delivery.body,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()


def retry_wait(*, attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after `attempts` failed ones: the receiver's Retry-After when it
    gave one, else WEBHOOK_RETRY_FIRST_SECONDS doubled per failure plus up to a tenth of jitter (so the
    deliveries a receiver's outage failed together do not all return at once); at most
    WEBHOOK_RETRY_MAX_SECONDS."""
    ceiling = float(settings.WEBHOOK_RETRY_MAX_SECONDS)
    if retry_after is not None:
        return min(ceiling, max(1.0, retry_after))
    wait = settings.WEBHOOK_RETRY_FIRST_SECONDS * 2 ** max(0, attempts - 1)
    return min(ceiling, wait + random.uniform(0, wait / 10))


def _retry_after(headers: dict[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return (parsedate_to_datetime(value) - timezone.now()).total_seconds()
    except (TypeError, ValueError):
        return None


def _claim(delivery_id: int, now) -> bool:
    """Pending and due → delivering. The row count says whether this worker got it."""
    return (
        WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now).update(
            status=Status.DELIVERING, claimed_at=now, queued_at=None, attempts=F("attempts") + 1
        )
        == 1
    )


def webhook_delivery_attempt(*, delivery_id: int) -> str:
    """One attempt at a delivery: returns its status afterwards, or "skipped" when it was not pending and
    due (delivered already, or another worker has it)."""
    claimed_at = timezone.now()
    if not _claim(delivery_id, claimed_at):
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    webhook = delivery.webhook
    # Later updates apply only while the row is still this attempt's (the sweep may have taken it back).
    mine = WebhookDelivery.objects.filter(pk=delivery_id, status=Status.DELIVERING, claimed_at=claimed_at)

    def finish(status: str, *, error: str = "", code: int | None = None, **extra) -> str:
        mine.update(status=status, claimed_at=None, last_error=error[:2000], last_status_code=code, **extra)
        return status

    if not webhook.active:
        reason = f": {webhook.disabled_reason}" if webhook.disabled_reason else ""
        return finish(
            Status.FAILED,
            error=f"Not sent: the webhook was disabled{reason}. Enable it, then retry.",
            attempts=F("attempts") - 1,
            next_attempt_at=None,
        )
    try:
        secret = webhook.secret
    except SecretError as exc:
        return finish(
            Status.FAILED,
            error=f"Not sent: the webhook's secret {exc.message}; rotate the secret.",
            attempts=F("attempts") - 1,
            next_attempt_at=None,
        )

    body = webhook_payload(delivery)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret=secret, timestamp=timestamp, body=body),
    }
    try:
        answer = http.post(webhook.url, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    except http.WebhookHttpError as exc:
        if not exc.retryable:
            return finish(Status.FAILED, error=exc.message, next_attempt_at=None)
        return _retry_or_fail(delivery, mine, error=exc.message, code=None, retry_after=None)

    status = answer.status
    said = f": {answer.excerpt}" if answer.excerpt else ""
    if 200 <= status < 300:
        return finish(Status.DELIVERED, code=status, delivered_at=timezone.now(), next_attempt_at=None)
    if status == 410:
        reason = f"The receiver answered 410 Gone to delivery {delivery.pk}{said}"[:500]
        with transaction.atomic():
            webhook_disable(webhook=webhook, reason=reason)
            finish(Status.GONE, code=status, error=reason, next_attempt_at=None)
        logger.warning("webhook %s disabled: %s", webhook.pk, reason)
        return Status.GONE
    if status >= 500 or status in RETRYABLE_STATUSES:
        retry_after = _retry_after(answer.headers) if status in {429, 503} else None
        return _retry_or_fail(delivery, mine, error=f"HTTP {status}{said}", code=status, retry_after=retry_after)
    if 300 <= status < 400:
        location = answer.headers.get("Location", "")
        error = f"HTTP {status}: redirects are not followed; set the webhook's URL to {location or 'the new address'}"
        return finish(Status.FAILED, code=status, error=error, next_attempt_at=None)
    return finish(Status.FAILED, code=status, error=f"HTTP {status} (refused, not retried){said}", next_attempt_at=None)


def _retry_or_fail(delivery: WebhookDelivery, mine, *, error: str, code: int | None, retry_after: float | None) -> str:
    attempts = delivery.attempts  # as claimed: this attempt included
    if attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        mine.update(
            status=Status.FAILED,
            claimed_at=None,
            next_attempt_at=None,
            last_status_code=code,
            last_error=f"Gave up after {attempts} attempts. Last: {error}"[:2000],
        )
        logger.warning("webhook delivery %s failed after %s attempts: %s", delivery.pk, attempts, error)
        return Status.FAILED
    wait = retry_wait(attempts=attempts, retry_after=retry_after)
    due = timezone.now() + timedelta(seconds=wait)
    with_countdown = wait <= COUNTDOWN_MAX_SECONDS
    taken = mine.update(
        status=Status.PENDING,
        claimed_at=None,
        next_attempt_at=due,
        # A countdown task is as good as queued until it is due; a later retry is the sweep's to queue.
        queued_at=due if with_countdown else None,
        last_status_code=code,
        last_error=error[:2000],
    )
    if taken and with_countdown:
        # A second late, so a worker whose clock is a little behind still finds the retry due.
        transaction.on_commit(lambda: _queue(delivery.pk, countdown=wait + 1))
    return Status.PENDING


def webhook_deliveries_retry(*, delivery_ids: list[int]) -> int:
    """Failed or gone deliveries of active webhooks → pending now, with a fresh round of attempts."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(
                pk__in=list(delivery_ids), status__in=[Status.FAILED, Status.GONE], webhook__active=True
            ).values_list("pk", flat=True)
        )
        taken = [
            pk
            for pk in ids
            if WebhookDelivery.objects.filter(pk=pk, status__in=[Status.FAILED, Status.GONE]).update(
                status=Status.PENDING, attempts=0, next_attempt_at=now, queued_at=now, claimed_at=None
            )
            == 1
        ]
        for pk in taken:
            transaction.on_commit(lambda pk=pk: _queue(pk))
    return len(taken)


@dataclass
class Sweep:
    requeued_stale: int = 0
    failed_stale: int = 0
    queued_due: int = 0


def webhooks_sweep(*, limit: int = 1000) -> Sweep:
    """Periodic (beat, `webhooks-sweep`): take back the deliveries whose worker died mid-attempt, and queue
    the due ones whose task was lost or whose retry was too far off for a countdown.

    Every row is taken by a conditional update whose row count says who took it, so two sweeps at once
    never queue a delivery twice; an attempt claims the row again, so a duplicate task does nothing."""
    result = Sweep()
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS)
    stale = Q(status=Status.DELIVERING, claimed_at__lt=cutoff)
    stale_ids = WebhookDelivery.objects.filter(stale).order_by("claimed_at").values_list("pk", flat=True)[:limit]
    note = "The worker stopped during attempt {} (no outcome recorded); the receiver may have got it."
    for pk, attempts in WebhookDelivery.objects.filter(pk__in=list(stale_ids)).values_list("pk", "attempts"):
        row = WebhookDelivery.objects.filter(stale, pk=pk)
        if attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            result.failed_stale += row.update(
                status=Status.FAILED, claimed_at=None, next_attempt_at=None, last_error=note.format(attempts)
            )
        else:
            result.requeued_stale += row.update(
                status=Status.PENDING,
                claimed_at=None,
                next_attempt_at=now,
                queued_at=None,
                last_error=note.format(attempts),
            )

    due = Q(status=Status.PENDING, next_attempt_at__lte=now) & (Q(queued_at__isnull=True) | Q(queued_at__lt=cutoff))
    due_ids = list(WebhookDelivery.objects.filter(due).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    for pk in due_ids:
        if WebhookDelivery.objects.filter(due, pk=pk).update(queued_at=now) == 1:
            result.queued_due += 1
            transaction.on_commit(lambda pk=pk: _queue(pk))
    if result.requeued_stale or result.failed_stale:
        logger.warning(
            "webhooks: %s deliveries left by a stopped worker queued again, %s failed (no attempts left)",
            result.requeued_stale,
            result.failed_stale,
        )
    return result
