"""Celery entry points: each takes ids, and calls a service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from surveys import services

logger = logging.getLogger(__name__)


def _max_retries() -> int:
    return int(getattr(settings, "SURVEY_SEND_MAX_RETRIES", 5))


@shared_task
def invitations_send_batch_task(invitation_ids: list[int]) -> None:
    for invitation_id in services.invitations_send_batch(invitation_ids=invitation_ids):
        invitation_send_task.apply_async(args=[invitation_id], countdown=60)


@shared_task(bind=True, max_retries=None)
def invitation_send_task(self, invitation_id: int) -> None:
    """One invitation whose batch hit a transient error: retried with back-off, then marked failed."""
    try:
        services.invitation_send(invitation_id=invitation_id)
    except services.InvitationSendError as exc:
        if self.request.retries >= _max_retries():
            logger.warning("invitation %s failed after %s retries: %s", invitation_id, self.request.retries, exc)
            services.invitation_mark_failed(invitation_id=invitation_id, error=f"gave up after retries: {exc}")
            return
        raise self.retry(exc=exc, countdown=min(3600, 60 * 2**self.request.retries)) from exc


@shared_task
def invitations_maintenance_task() -> None:
    """Periodic (hourly, CELERY_BEAT_SCHEDULE): send due reminders and re-queue invitations stuck in the queue."""
    requeued = services.invitations_requeue_stuck()
    reminded = services.invitations_remind_due()
    if requeued or reminded:
        logger.info("surveys maintenance: %s invitations re-queued, %s reminders sent", requeued, reminded)
