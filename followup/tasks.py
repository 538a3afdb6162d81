"""Celery entry points: each takes ids (or nothing, from beat) and calls a service."""

from __future__ import annotations

from celery import shared_task

from followup import services
from followup.models import CaseEmail


@shared_task
def alerts_sweep_task() -> int:
    """Periodic (every minute, CELERY_BEAT_SCHEDULE): evaluate the alert rules on a batch of new answers,
    queue again alert emails and case follow-up emails whose task was lost (and mark failed the follow-up
    emails a stopped worker left half-sent), then send the summaries of
    alerts over the owners' hourly cap. A full batch (a burst: a large mailing answered at once) queues
    the next one, behind the work already waiting, as the comment sweep does: a worker with one slot
    takes turns between them rather than sweeping alerts for as long as the burst lasts."""
    looked_at = services.alerts_sweep()
    if looked_at == services.SWEEP_BATCH:
        alerts_sweep_task.delay()
    services.alert_owner_emails_requeue()
    services.case_emails_requeue()
    services.case_emails_abandoned_fail()
    services.alert_summaries_send()
    return looked_at


@shared_task
def alert_owner_email_task(firing_id: int) -> bool:
    return services.alert_owner_email_send(firing_id=firing_id)


@shared_task(bind=True, max_retries=None)
def case_email_task(self, email_id: int) -> str:
    """Send a case's follow-up email; after a mail server error, try again with back-off (the service counts
    the attempts and gives up at its cap)."""
    status = services.case_email_deliver(email_id=email_id)
    if status == "pending":
        attempts = CaseEmail.objects.filter(pk=email_id).values_list("attempts", flat=True).first() or 1
        raise self.retry(countdown=services.case_email_retry_wait(attempts=attempts))
    return status
