from __future__ import annotations

import pytest

from crm_sync.models import Connection
from crm_sync.tests.fake_hubspot import TOKEN, DictStore, FakeHubSpot
from crm_sync.tests.hubspot_data import connection_settings


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The HTTP client's waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr("crm_sync.http.sleep", waits.append)
    return waits


@pytest.fixture
def store() -> DictStore:
    return DictStore()


@pytest.fixture
def fake_hubspot(store):
    with FakeHubSpot(store) as server:
        yield server


@pytest.fixture
def make_hubspot_connection():
    def make(server: FakeHubSpot, *, name: str = "HubSpot", **extra) -> Connection:
        return Connection.objects.create(
            kind=Connection.Kind.HUBSPOT, name=name, token=TOKEN,
            settings=connection_settings(server.url, **extra),
        )  # fmt: skip

    return make
