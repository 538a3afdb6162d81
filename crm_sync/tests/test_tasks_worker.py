"""A real `celery worker` process on the Redis broker, killed in the middle of a sync.

The worker and the test share the PostgreSQL test database (an in-memory SQLite database is
invisible to another process), so these tests need DATABASE_URL=postgres://... and Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from crm_sync.models import SyncRun
from crm_sync.tasks import crm_sync_connection
from crm_sync.tests.fake_hubspot import FakeHubSpot
from crm_sync.tests.helpers import subprocess_env
from crm_sync.tests.hubspot_data import CompanyDataset
from crm_sync.tests.test_services_sync import key, stored_events
from customers.models import Event

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def broker_url(redis_url) -> str:
    configured = os.environ.get("CELERY_BROKER_URL", "")
    return configured if configured.startswith("redis://") else redis_url


class Worker:
    """`celery -A cxmetrics worker` on a queue of its own, so no other worker takes our tasks."""

    def __init__(self, broker_url: str, queue: str, **env: str) -> None:
        self.broker_url = broker_url
        self.queue = queue
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        command = [
            sys.executable, "-m", "celery", "-A", "cxmetrics", "worker", "--pool=prefork", "--concurrency=1",
            "-Q", self.queue, "-n", f"{self.queue}@%h", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--loglevel=INFO",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=subprocess_env(CELERY_BROKER_URL=self.broker_url, **self.env),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        return self

    def kill(self) -> None:
        """SIGKILL to the whole worker (main process and pool child): no cleanup runs."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def send(self, connection_id: int) -> None:
        with crm_sync_connection.app.connection_for_write(self.broker_url) as connection:
            crm_sync_connection.apply_async(args=[connection_id], queue=self.queue, connection=connection)


def wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def worker_factory(broker_url, postgres_db):
    workers: list[Worker] = []

    def start(**env: str) -> Worker:
        worker = Worker(broker_url, f"crm-sync-test-{uuid.uuid4().hex[:10]}", **env).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.kill()
    _broker_forget([worker.queue for worker in workers], broker_url)


def _broker_forget(queues: list[str], broker_url: str) -> None:
    """Remove what our private queues left in Redis, including the killed worker's unacked message
    (which kombu would otherwise restore into a queue nobody consumes)."""
    import json

    import redis

    client = redis.Redis.from_url(broker_url)
    for queue in queues:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.zrem("_kombu.binding_deadlines", queue)
    for tag, raw in client.hgetall("unacked").items():
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key in queues:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def test_a_worker_syncs_and_the_events_are_the_expected_ones(worker_factory, make_hubspot_connection):
    data = CompanyDataset(400)
    with FakeHubSpot(data) as server:
        connection = make_hubspot_connection(server, page_size=100)
        worker = worker_factory()
        worker.send(connection.pk)
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
        first.send(connection.pk)
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
        second.send(connection.pk)
        wait_for(lambda: SyncRun.objects.filter(status="skipped").exists(), timeout=60, what="the skipped sync")
        assert SyncRun.objects.get(pk=interrupted.pk).status == "running"

        # Once the heartbeat is older than the dead-after time, the next sync fails it and resumes.
        time.sleep(max(0.0, dead_after + 1 - (time.monotonic() - killed_at)))
        second.send(connection.pk)
        wait_for(lambda: SyncRun.objects.filter(status="succeeded").exists(), timeout=120, what="the resumed sync")
        second.stop()

    interrupted.refresh_from_db()
    assert interrupted.status == "failed" and interrupted.error.startswith("The worker stopped: no heartbeat since")
    resumed = SyncRun.objects.get(status="succeeded")
    assert resumed.pages <= 30 - interrupted.pages + 1  # it started from the checkpoint, not from the beginning
    assert sorted(map(key, stored_events(connection))) == expected
    assert resumed.events_created == len(expected) - partial
