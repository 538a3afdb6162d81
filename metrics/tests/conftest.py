"""Every metric test runs twice: once with nothing rolled up (the figures come from the raw rows and the
recorded changes), once with the read model refreshed before each read (the figures come from the
rollups and the spells). Both must give the hand-computed numbers. A test marked ``counts_queries``
runs both ways but refreshes by itself (``refresh_if``), so the refresh's queries are not counted; a
test marked ``refreshes_itself`` runs once and refreshes when it means to."""

from __future__ import annotations

import pytest

from metrics import customer_base, read
from metrics.refresh import metrics_refresh


def pytest_generate_tests(metafunc):
    if "read_path" in metafunc.fixturenames and not metafunc.definition.get_closest_marker("refreshes_itself"):
        metafunc.parametrize("read_path", ["raw", "rolled up"], indirect=True)


@pytest.fixture(autouse=True)
def read_path(request, monkeypatch):
    mode = getattr(request, "param", "raw")
    hooked = not request.node.get_closest_marker("counts_queries")
    if mode == "rolled up" and hooked and "django_db_setup" in request.fixturenames:
        plan, pending_spells = read.plan, customer_base.pending_spells

        def refreshed(original):
            def call(*args, **kwargs):
                metrics_refresh()
                return original(*args, **kwargs)

            return call

        monkeypatch.setattr(read, "plan", refreshed(plan))
        monkeypatch.setattr(customer_base, "pending_spells", refreshed(pending_spells))
    return mode


def refresh_if(read_path: str) -> None:
    if read_path == "rolled up":
        metrics_refresh()
