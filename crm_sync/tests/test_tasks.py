from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm_sync import tasks
from crm_sync.models import Connection, SyncRun
from crm_sync.tests.fake_hubspot import FakeHubSpot
from crm_sync.tests.hubspot_data import CompanyDataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(tasks.crm_sync_connection, "delay", lambda pk, **kw: calls.append(pk))
    return calls


def test_crm_sync_due_queues_due_enabled_connections_once(queued):
    now = timezone.now()
    never = Connection.objects.create(kind="csv", name="never synced")
    due = Connection.objects.create(kind="csv", name="due", next_sync_at=now - timedelta(minutes=1))
    Connection.objects.create(kind="csv", name="later", next_sync_at=now + timedelta(minutes=5))
    Connection.objects.create(kind="csv", name="disabled", enabled=False)

    assert tasks.crm_sync_due() == 2
    assert sorted(queued) == sorted([never.pk, due.pk])
    due.refresh_from_db()
    assert due.next_sync_at > now + timedelta(minutes=59)
    # A second beat tick finds nothing due: the claim moved next_sync_at forward.
    assert tasks.crm_sync_due() == 0


def test_a_claim_fails_when_another_process_moved_next_sync_at_first():
    seen = timezone.now() - timedelta(minutes=1)
    connection = Connection.objects.create(kind="csv", name="contended", next_sync_at=seen)
    later = timezone.now() + timedelta(hours=1)
    assert tasks.connection_claim(connection.pk, seen_next_sync_at=seen, until=later)
    assert not tasks.connection_claim(connection.pk, seen_next_sync_at=seen, until=later)


def test_transient_errors_are_retried_a_few_times_then_given_up(make_hubspot_connection, sleeps, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with FakeHubSpot(CompanyDataset(5)) as server:
        server.fail(503, times=100)
        connection = make_hubspot_connection(server, max_attempts=1)
        tasks.crm_sync_connection.apply(args=[connection.pk])
    assert SyncRun.objects.filter(status="failed").count() == 1 + tasks.MAX_RETRIES


def test_permanent_errors_are_not_retried(make_hubspot_connection, sleeps):
    with FakeHubSpot(CompanyDataset(5), token="other") as server:
        connection = make_hubspot_connection(server)
        tasks.crm_sync_connection.apply(args=[connection.pk])
    assert SyncRun.objects.filter(status="failed").count() == 1


def test_a_sync_already_running_is_skipped_quietly(make_hubspot_connection):
    with FakeHubSpot(CompanyDataset(5)) as server:
        connection = make_hubspot_connection(server)
        SyncRun.objects.create(connection=connection)
        result = tasks.crm_sync_connection.apply(args=[connection.pk])
    assert result.successful()
    assert SyncRun.objects.count() == 1


def test_a_deleted_connection_is_ignored():
    assert tasks.crm_sync_connection.apply(args=[999]).successful()
