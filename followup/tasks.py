"""Celery entry points: each takes ids (or nothing, from beat) and calls a service."""

from __future__ import annotations

from celery import shared_task

from followup import services


@shared_task
def alerts_sweep_task() -> int:
    """Periodic (every minute, CELERY_BEAT_SCHEDULE): evaluate the alert rules on new answers, queue again
    alert emails whose task was lost, then send the summaries of alerts over the owners' hourly cap."""
    looked_at = services.alerts_sweep()
    services.alert_owner_emails_requeue()
    services.alert_summaries_send()
    return looked_at


@shared_task
def alert_owner_email_task(firing_id: int) -> bool:
    return services.alert_owner_email_send(firing_id=firing_id)
