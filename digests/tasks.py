from __future__ import annotations

from celery import shared_task

from .services import digest_send, digests_schedule


@shared_task
def digests_due_task() -> int:
    """Beat: write the digests owed for the last whole week and month and hand the pending ones out."""
    scheduled = digests_schedule()
    for pk in scheduled.queued:
        digest_send_task.delay(pk)
    return len(scheduled.queued)


@shared_task
def digest_send_task(delivery_id: int) -> str:
    return digest_send(delivery_id=delivery_id)
