"""Celery entry points: each takes ids, and calls a service."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from surveys import services

logger = logging.getLogger(__name__)


def _max_retries() -> int:
    return int(getattr(settings, "SURVEY_SEND_MAX_RETRIES", 5))


RETRY_FIRST_SECONDS = 60


def _retry_later(invitation_id: int, countdown: float) -> None:
    services.invitations_mark_due(invitation_ids=[invitation_id], due_at=timezone.now() + timedelta(seconds=countdown))


@shared_task
def invitations_send_batch_task(invitation_ids: list[int]) -> None:
    for invitation_id in services.invitations_send_batch(invitation_ids=invitation_ids):
        _retry_later(invitation_id, RETRY_FIRST_SECONDS)
        invitation_send_task.apply_async(args=[invitation_id], countdown=RETRY_FIRST_SECONDS)


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
        countdown = min(3600, RETRY_FIRST_SECONDS * 2**self.request.retries)
        _retry_later(invitation_id, countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task
def invitations_requeue_stuck_task() -> int:
    """Periodic (every few minutes, CELERY_BEAT_SCHEDULE): queue again the sends a dead worker or a lost
    task left in the queue."""
    return services.invitations_requeue_stuck()


@shared_task
def invitations_maintenance_task() -> None:
    """Periodic (hourly, CELERY_BEAT_SCHEDULE): send due reminders."""
    reminded = services.invitations_remind_due()
    if reminded:
        logger.info("surveys maintenance: %s reminders sent", reminded)
