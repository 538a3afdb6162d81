"""HubSpot records far off or with a NUL: quarantined by the sync, and never moving the checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from crm_sync.connectors.hubspot import HubSpotConnector
from crm_sync.models import Connection
from crm_sync.tests.fake_hubspot import TOKEN
from crm_sync.tests.hubspot_data import connection_settings


@pytest.fixture
def hubspot() -> HubSpotConnector:
    settings = connection_settings("http://127.0.0.1:9", history=False, prefetch=False)
    return HubSpotConnector(Connection(kind="hubspot", name="t", token=TOKEN, settings=settings))


@time_machine.travel(datetime(2026, 5, 14, 12, tzinfo=UTC), tick=False)
@pytest.mark.parametrize(
    ("modified", "expected"),
    [
        ("2026-05-01T00:00:00.000Z", int(datetime(2026, 5, 1, tzinfo=UTC).timestamp() * 1000)),
        ("9999-12-31T00:00:00.000Z", None),
        ("1900-01-01T00:00:00.000Z", None),
    ],
)
def test_a_modification_time_far_off_never_moves_the_checkpoint(hubspot, modified, expected):
    assert hubspot._modified_ms({"id": "1", "properties": {"hs_lastmodifieddate": modified}}) == expected


def test_a_nul_in_the_record_id_is_rejected_and_the_source_can_be_stored(hubspot):
    page = hubspot._page([{"id": "12\x0034", "properties": {"name": "Acme"}}])
    assert page.records == []
    assert [(r.source, r.reason) for r in page.rejected] == [
        ("hubspot:companies:12\\x0034", "the record id contains a NUL character")
    ]
    assert "\x00" not in page.rejected[0].payload
