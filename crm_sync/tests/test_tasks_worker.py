"""A real `celery worker` process on the Redis broker, killed in the middle of a sync.

The worker and the test share the PostgreSQL test database (an in-memory SQLite database is
invisible to another process), so these tests need DATABASE_URL=postgres://... and Redis.
"""

from __future__ import annotations

import time

import pytest

from crm_sync.models import SyncRun
from crm_sync.tasks import crm_sync_connection
from crm_sync.tests.fake_hubspot import FakeHubSpot
from crm_sync.tests.hubspot_data import CompanyDataset
from crm_sync.tests.test_services_sync import key, stored_events
from customers.models import Event
from cxmetrics.tests.worker import wait_for

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_a_worker_syncs_and_the_events_are_the_expected_ones(worker_factory, make_hubspot_connection):
    data = CompanyDataset(400)
    with FakeHubSpot(data) as server:
        connection = make_hubspot_connection(server, page_size=100)
        worker = worker_factory()
        worker.send(crm_sync_connection, connection.pk)
        wait_for(lambda: SyncRun.objects.filter(status__in=["succeeded", "failed"]).exists(), timeout=90,
                 what="the worker's sync run")  # fmt: skip
        worker.stop()
    run = SyncRun.objects.get()
    assert run.status == "succeeded", run.error
    assert sorted(map(key, stored_events(connection))) == sorted(map(key, data.expected_events()))


def test_a_sync_interrupted_by_a_killed_worker_resumes_with_the_same_result(worker_factory, make_hubspot_connection):
    data = CompanyDataset(3000)
    expected = sorted(map(key, data.expected_events()))
    dead_after = 10  # seconds without a heartbeat; the workers beat every 2.5 s
    with FakeHubSpot(data, latency=0.03) as server:
        # No overlap: the modification times here span minutes, and the resumed run should visibly
        # start at the checkpoint (with the default overlap it would read everything again, harmlessly).
        connection = make_hubspot_connection(server, page_size=100, overlap_minutes=0)
        first = worker_factory(CRM_SYNC_DEAD_AFTER_SECONDS=str(dead_after))
        first.send(crm_sync_connection, connection.pk)
        wait_for(lambda: SyncRun.objects.filter(pages__gte=5).exists(), timeout=90, what="five committed pages")
        first.kill()
        killed_at = time.monotonic()

        interrupted = SyncRun.objects.get()
        assert interrupted.status == "running"  # the worker died without a word
        assert 5 <= interrupted.pages < 30
        connection.refresh_from_db()
        assert connection.checkpoint["modified_ms"] > 0
        partial = Event.objects.count()
        assert 0 < partial < len(expected)

        # At once (the task redelivered, or "Sync now"), the run still looks alive: the sync is skipped,
        # and the skip is recorded for the admin.
        second = worker_factory(CRM_SYNC_DEAD_AFTER_SECONDS=str(dead_after))
        second.send(crm_sync_connection, connection.pk)
        wait_for(lambda: SyncRun.objects.filter(status="skipped").exists(), timeout=60, what="the skipped sync")
        assert SyncRun.objects.get(pk=interrupted.pk).status == "running"

        # Once the heartbeat is older than the dead-after time, the next sync fails it and resumes.
        time.sleep(max(0.0, dead_after + 1 - (time.monotonic() - killed_at)))
        second.send(crm_sync_connection, connection.pk)
        wait_for(lambda: SyncRun.objects.filter(status="succeeded").exists(), timeout=120, what="the resumed sync")
        second.stop()

    interrupted.refresh_from_db()
    assert interrupted.status == "failed" and interrupted.error.startswith("The worker stopped: no heartbeat since")
    resumed = SyncRun.objects.get(status="succeeded")
    assert resumed.pages <= 30 - interrupted.pages + 1  # it started from the checkpoint, not from the beginning
    assert sorted(map(key, stored_events(connection))) == expected
    assert resumed.events_created == len(expected) - partial
