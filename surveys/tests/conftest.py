import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def queued(monkeypatch):
    """Capture what would be queued for the Celery worker instead of talking to the broker."""
    from surveys import tasks

    calls: list[tuple] = []

    def fake_apply_async(args=None, kwargs=None, countdown=None, **options):
        calls.append((args, countdown))

    monkeypatch.setattr(tasks.invitations_send_batch_task, "apply_async", fake_apply_async)
    return calls
