"""Celery entry points: each takes an id (or nothing), and calls a service."""

from __future__ import annotations

from celery import shared_task

from webhooks import services


@shared_task
def webhook_delivery_task(delivery_id: int) -> str:
    """One attempt. Failures are not Celery retries: the service records when to try again, and queues it."""
    return services.webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task
def webhooks_sweep_task() -> None:
    """Periodic (CELERY_BEAT_SCHEDULE "webhooks-sweep")."""
    services.webhooks_sweep()
