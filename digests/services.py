"""Digest subscriptions and sending. Each (user, frequency, period) digest is owed once: the beat task
writes the rows owed, a worker claims a row before sending and marks it sent after, so a worker that
stops mid-send leaves that row "sending" (never sent again automatically: at most once) and the others
pending for the next run."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from core.access import is_cx_manager
from core.days import today

from .content import Digest, digest_content, period_for
from .models import DigestDelivery, DigestSubscription, Frequency

log = logging.getLogger(__name__)

# A pending digest that could not be sent (the mail server down) is tried this many times in all.
MAX_ATTEMPTS = 5


def digest_subscription_set(*, user, frequency: str, language: str) -> DigestSubscription:
    if frequency not in Frequency.values:
        raise ValueError(f"Unknown digest frequency {frequency!r}; use one of {', '.join(Frequency.values)}.")
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"Unknown language {language!r}.")
    subscription, _created = DigestSubscription.objects.update_or_create(
        user=user, defaults={"frequency": frequency, "language": language}
    )
    return subscription


@dataclass(frozen=True)
class Scheduled:
    owed: int  # rows written now
    queued: list[int]  # deliveries handed to the workers


def digests_schedule(*, day: date | None = None) -> Scheduled:
    """Write the digests owed for the last whole week and month before ``day`` (today) to every
    subscriber, and return the pending ones to queue. Running it again writes nothing twice; a
    subscriber who joins mid-period gets the next period's digest, not a backlog."""
    day = day or today()
    owed = 0
    for frequency in (Frequency.WEEKLY, Frequency.MONTHLY):
        start, end = period_for(frequency, day)
        users = DigestSubscription.objects.filter(frequency=frequency, user__is_active=True).values_list(
            "user_id", flat=True
        )
        rows = [DigestDelivery(user_id=pk, frequency=frequency, period_start=start, period_end=end) for pk in users]
        period = DigestDelivery.objects.filter(frequency=frequency, period_start=start)
        before = period.count()
        DigestDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        owed += period.count() - before
        # Only the current period is sent: a delivery of an older period still pending is stale.
        DigestDelivery.objects.filter(
            frequency=frequency, status=DigestDelivery.Status.PENDING, period_start__lt=start
        ).update(status=DigestDelivery.Status.FAILED, error=gettext("Not sent before the next period began."))
    queued = list(DigestDelivery.objects.filter(status=DigestDelivery.Status.PENDING).values_list("pk", flat=True))
    return Scheduled(owed=owed, queued=queued)


def _claim(pk: int) -> bool:
    """pending -> sending for exactly one worker."""
    return bool(
        DigestDelivery.objects.filter(pk=pk, status=DigestDelivery.Status.PENDING).update(
            status=DigestDelivery.Status.SENDING, claimed_at=timezone.now()
        )
    )


def digest_message(*, user, digest: Digest, language: str) -> EmailMultiAlternatives:
    site = settings.SITE_URL.rstrip("/")
    with translation.override(language):
        context = {
            "user": user,
            "digest": digest,
            "language": language,
            "dashboard_url": f"{site}{reverse('dashboards-overview')}?start={digest.start}&end={digest.end}",
            "profile_url": f"{site}{reverse('digests-profile')}",
            "cases_url": f"{site}{reverse('followup-cases')}",
            "customer_urls": {
                d["customer_id"]: f"{site}{reverse('dashboards-customer', args=[d['customer_id']])}"
                for d in [*digest.detractors, *(digest.churn["signals"] if digest.churn else [])]
            },
        }
        subject = (
            gettext("CX Metrics weekly digest: %(start)s to %(end)s")
            if digest.frequency == Frequency.WEEKLY
            else gettext("CX Metrics monthly digest: %(start)s to %(end)s")
        ) % {"start": digest.start.isoformat(), "end": digest.end.isoformat()}
        text = render_to_string("digests/email.txt", context)
        html = render_to_string("digests/email.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[user.email])
    message.attach_alternative(html, "text/html")
    return message


def digest_send(*, delivery_id: int) -> str:
    """Send one owed digest if this worker claims it. Returns the delivery's status afterwards."""
    if not _claim(delivery_id):
        return "taken"
    delivery = DigestDelivery.objects.select_related("user").get(pk=delivery_id)
    user = delivery.user
    subscription = DigestSubscription.objects.filter(user=user).first()
    if not user.email or not user.is_active or not is_cx_manager(user) or subscription is None:
        reason = gettext("The user has no email address or no longer sees the dashboards.")
        _finish(delivery, DigestDelivery.Status.FAILED, reason)
        return DigestDelivery.Status.FAILED
    try:
        digest = digest_content(
            frequency=delivery.frequency, start=delivery.period_start, end=delivery.period_end, user=user
        )
        message = digest_message(user=user, digest=digest, language=subscription.language)
    except Exception as exc:  # nothing was sent: the next run tries again, up to the cap
        return _retry_later(delivery, exc)
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        # The mail server refused it or could not be reached: nothing was delivered.
        return _retry_later(delivery, exc)
    _finish(delivery, DigestDelivery.Status.SENT, "")
    return DigestDelivery.Status.SENT


def _retry_later(delivery: DigestDelivery, exc: Exception) -> str:
    delivery.attempts += 1
    status = DigestDelivery.Status.FAILED if delivery.attempts >= MAX_ATTEMPTS else DigestDelivery.Status.PENDING
    _finish(delivery, status, str(exc))
    log.warning("digest %s not sent: %s", delivery.pk, exc)
    return status


def _finish(delivery: DigestDelivery, status: str, error: str) -> None:
    DigestDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        error=error,
        attempts=delivery.attempts,
        sent_at=timezone.now() if status == DigestDelivery.Status.SENT else None,
    )


def digests_resend(*, deliveries) -> int:
    """An admin's decision to send again digests left "sending" by a stopped worker, or failed."""
    return deliveries.filter(status__in=[DigestDelivery.Status.SENDING, DigestDelivery.Status.FAILED]).update(
        status=DigestDelivery.Status.PENDING, attempts=0, error=""
    )
