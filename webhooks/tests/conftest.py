from __future__ import annotations

import pytest

from webhooks import services
from webhooks.models import Webhook
from webhooks.tests.receiver import Receiver


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    # The receiver is plain http:// on loopback; a short timeout keeps the timeout test quick.
    settings.WEBHOOK_ALLOW_LOCAL_HTTP = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    settings.WEBHOOK_RETRY_FIRST_SECONDS = 60
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600
    settings.WEBHOOK_STALE_SECONDS = 300


@pytest.fixture
def queued(monkeypatch) -> list[tuple[int, float | None]]:
    """The tasks the services queue, recorded instead of sent: (delivery id, countdown)."""
    calls: list[tuple[int, float | None]] = []
    monkeypatch.setattr(services, "_queue", lambda delivery_id, countdown=None: calls.append((delivery_id, countdown)))
    return calls


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def make_webhook(receiver):
    def make(name: str = "Ops channel", url: str | None = None) -> tuple[Webhook, str]:
        return services.webhook_create(name=name, url=url or receiver.url)

    return make
