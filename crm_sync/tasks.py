"""Celery entry points: each takes an id, loads the row and calls a service."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from crm_sync.connectors import ConnectorError
from crm_sync.models import Connection
from crm_sync.services import SyncAlreadyRunning, crm_sync_run, sync_run_record_skipped, sync_runs_fail_dead

log = logging.getLogger(__name__)

MAX_RETRIES = 3


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def crm_sync_connection(self, connection_id: int, full: bool = False) -> None:
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        log.warning("CRM connection %s no longer exists; nothing to sync", connection_id)
        return
    try:
        crm_sync_run(connection=connection, full=full)
    except SyncAlreadyRunning as exc:
        skipped = sync_run_record_skipped(connection=connection, active=exc.active)
        log.warning("Sync of %s skipped: %s", connection, skipped.error)
    except ConnectorError as exc:
        # The run is already marked failed with the message. Only a transient error is retried, and
        # only a few times: beat tries again at the next interval anyway.
        if exc.retryable and self.request.retries < MAX_RETRIES:
            raise self.retry(countdown=60 * 2**self.request.retries) from None
        log.error("Sync of %s failed: %s", connection, exc.message)


@shared_task
def crm_sync_due() -> int:
    """Queue a sync for each enabled connection that is due. Each connection is claimed with a
    conditional UPDATE of next_sync_at, so two beats (or a slow one) never queue it twice, and a
    connection whose sync keeps failing waits its interval instead of looping.

    First, the runs whose worker stopped (no heartbeat for CRM_SYNC_DEAD_AFTER_SECONDS) are marked
    failed, so the admin shows them within minutes and their connection's next sync proceeds."""
    sync_runs_fail_dead()
    now = timezone.now()
    queued = 0
    due = Connection.objects.filter(enabled=True).filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
    for connection_id, next_sync_at, interval in due.values_list("pk", "next_sync_at", "sync_interval_minutes"):
        if not connection_claim(
            connection_id, seen_next_sync_at=next_sync_at, until=now + timedelta(minutes=max(1, interval))
        ):
            continue  # another process got there first
        crm_sync_connection.delay(connection_id)
        queued += 1
    return queued


def connection_claim(connection_id: int, *, seen_next_sync_at, until) -> bool:
    """Move next_sync_at forward only if it is still what we read: exactly one claimer wins."""
    rows = Connection.objects.filter(pk=connection_id)
    if seen_next_sync_at is None:
        rows = rows.filter(next_sync_at__isnull=True)
    else:
        rows = rows.filter(next_sync_at=seen_next_sync_at)
    return rows.update(next_sync_at=until) == 1
