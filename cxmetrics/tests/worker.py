"""A real `celery worker` process for integration tests, on a queue of its own, on the Redis broker and
the PostgreSQL test database (an in-memory SQLite database is invisible to another process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from crm_sync.tests.helpers import subprocess_env


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

    def send(self, task, *args) -> None:
        with task.app.connection_for_write(self.broker_url) as connection:
            task.apply_async(args=list(args), queue=self.queue, connection=connection)


def wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def broker_url(redis_url) -> str:
    configured = os.environ.get("CELERY_BROKER_URL", "")
    return configured if configured.startswith("redis://") else redis_url


@pytest.fixture
def worker_factory(broker_url, postgres_db):
    workers: list[Worker] = []

    def start(**env: str) -> Worker:
        worker = Worker(broker_url, f"test-worker-{uuid.uuid4().hex[:10]}", **env).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.kill()
    _broker_forget([worker.queue for worker in workers], broker_url)


def _broker_forget(queues: list[str], broker_url: str) -> None:
    """Remove what our private queues left in Redis, including the killed worker's unacked message
    (which kombu would otherwise restore into a queue nobody consumes)."""
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
