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


def test_a_sync_skipped_because_another_run_is_alive_is_recorded_as_a_skipped_run(make_hubspot_connection, caplog):
    with FakeHubSpot(CompanyDataset(5)) as server:
        connection = make_hubspot_connection(server)
        active = SyncRun.objects.create(connection=connection, heartbeat_at=timezone.now())
        result = tasks.crm_sync_connection.apply(args=[connection.pk])
    assert result.successful()
    assert not server.requests
    skipped = SyncRun.objects.exclude(pk=active.pk).get()
    assert skipped.status == SyncRun.Status.SKIPPED and skipped.finished_at is not None
    assert skipped.error.startswith("Skipped: the run started at ") and "is still active" in skipped.error
    active.refresh_from_db()
    assert active.status == SyncRun.Status.RUNNING  # untouched
    assert any(r.levelname == "WARNING" and "skipped" in r.getMessage() for r in caplog.records)


def test_crm_sync_due_fails_dead_runs_within_minutes_even_when_no_sync_is_due(queued, settings):
    settings.CRM_SYNC_DEAD_AFTER_SECONDS = 240
    now = timezone.now()
    connection = Connection.objects.create(kind="csv", name="later", next_sync_at=now + timedelta(minutes=50))
    dead = SyncRun.objects.create(connection=connection)
    SyncRun.objects.filter(pk=dead.pk).update(heartbeat_at=now - timedelta(seconds=241))
    alive = SyncRun.objects.create(
        connection=Connection.objects.create(kind="csv", name="busy", next_sync_at=now + timedelta(minutes=50))
    )
    SyncRun.objects.filter(pk=alive.pk).update(heartbeat_at=now - timedelta(seconds=200))

    assert tasks.crm_sync_due() == 0
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED and "The worker stopped" in dead.error
    assert alive.status == SyncRun.Status.RUNNING
    assert queued == []  # it resumes at its next scheduled sync


def test_a_redelivered_sync_task_applies_nothing_twice(make_hubspot_connection, sleeps, tmp_path):
    """Redis redelivers an unacknowledged task (a worker killed after its last commit, before the ack):
    running it again must change nothing."""
    from customers.models import Customer, Event

    data = CompanyDataset(50)
    with FakeHubSpot(data) as server:
        hubspot = make_hubspot_connection(server, page_size=20)
        tasks.crm_sync_connection.apply(args=[hubspot.pk])
        first = (Customer.objects.count(), Event.objects.count())
        tasks.crm_sync_connection.apply(args=[hubspot.pk])
    assert (Customer.objects.count(), Event.objects.count()) == first
    assert list(SyncRun.objects.filter(connection=hubspot).values_list("status", "events_created")) == [
        ("succeeded", 0),
        ("succeeded", first[1]),
    ]

    (tmp_path / "customers-2024-06-01.csv").write_text(
        "customer_id,name,email,segment,value,status,acquired_at,lost_at,lost_reason,referred_by,updated_at\n"
        "A1,Alpha,a@example.com,,100,active,2024-01-01,,,,2024-06-01\n"
    )
    folder = Connection.objects.create(kind="csv", name="drops", settings={"folder": str(tmp_path)})
    tasks.crm_sync_connection.apply(args=[folder.pk])
    after_file = (Customer.objects.count(), Event.objects.count())
    tasks.crm_sync_connection.apply(args=[folder.pk])
    assert (Customer.objects.count(), Event.objects.count()) == after_file == (first[0] + 1, first[1] + 1)
    assert folder.processed_files.count() == 1


def test_a_deleted_connection_is_ignored():
    assert tasks.crm_sync_connection.apply(args=[999]).successful()
