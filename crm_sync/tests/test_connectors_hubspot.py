"""The HubSpot connector alone: requests, paging, checkpoints and normalisation (no database writes)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from crm_sync.connectors import ConnectorError
from crm_sync.connectors.hubspot import HubSpotConnector
from crm_sync.models import Connection
from crm_sync.tests.fake_hubspot import TOKEN, FakeHubSpot, iso_ms
from crm_sync.tests.hubspot_data import Company, CompanyDataset, connection_settings


def connector(server: FakeHubSpot, **extra) -> HubSpotConnector:
    return HubSpotConnector(Connection(kind="hubspot", name="t", token=TOKEN,
                                       settings=connection_settings(server.url, **extra)))  # fmt: skip


def test_incremental_pages_carry_the_newest_modification_as_checkpoint(sleeps):
    with FakeHubSpot(CompanyDataset(250)) as server:
        pages = list(connector(server).pages(checkpoint={}, full=False))
        searches = [body for _, path, body in server.requests if path.endswith("/search")]
    assert [len(p.records) + len(p.rejected) for p in pages] == [100, 100, 50]
    ordered = sorted(Company(i).modified_ms for i in range(250))
    assert [p.checkpoint["modified_ms"] for p in pages] == [ordered[99], ordered[199], ordered[249]]
    assert [b.get("after") for b in searches] == [None, "100", "200"]
    assert searches[0]["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]


def test_history_is_read_in_batches_for_event_times(sleeps):
    with FakeHubSpot(CompanyDataset(120)) as server:
        list(connector(server, history_batch_size=50).pages(checkpoint={}, full=False))
        batches = [body for _, path, body in server.requests if path.endswith("/batch/read")]
    # Sent at once, so they may arrive in any order; together they cover the page once.
    assert sorted(len(b["inputs"]) for b in batches) == [20, 50, 50]
    assert sorted(int(i["id"]) for b in batches for i in b["inputs"]) == list(range(1, 121))
    assert batches[0]["propertiesWithHistory"] == ["cx_lost", "cx_referred_by", "cx_segment", "lifecyclestage"]


@pytest.mark.parametrize("concurrency, overlapping", [(4, True), (1, False)])
def test_a_pages_history_reads_are_sent_at_once(sleeps, concurrency, overlapping):
    """Each read waits for HubSpot (hundreds of milliseconds): a page's four reads overlap, up to
    history_concurrency, and its records are the same either way."""
    with FakeHubSpot(CompanyDataset(200), latency=0.05) as server:
        hubspot = connector(server, page_size=200, history_batch_size=50, history_concurrency=concurrency)
        try:
            pages = list(hubspot.pages(checkpoint={}, full=False))
        finally:
            hubspot.close()
        assert (server.max_in_flight > 1) is overlapping and server.max_in_flight <= concurrency
    assert len(pages) == 1 and len(pages[0].records) + len(pages[0].rejected) == 200
    serial = connector_records(CompanyDataset(200), history_concurrency=1)
    assert [(r.external_id, r.customer_since, r.lost_at, r.segment_history) for r in pages[0].records] == serial
    assert not [t for t in threading.enumerate() if t.name.startswith("crm-history-")]


def connector_records(store, **extra) -> list[tuple]:
    with FakeHubSpot(store) as server:
        hubspot = connector(server, page_size=200, **extra)
        records = [r for page in hubspot.pages(checkpoint={}, full=False) for r in page.records]
        hubspot.close()
    return [(r.external_id, r.customer_since, r.lost_at, r.segment_history) for r in records]


def test_a_failed_history_read_fails_the_page_after_its_retries(sleeps):
    with FakeHubSpot(CompanyDataset(200)) as server:
        server.fail(500, times=20, path_contains="/batch/read")
        hubspot = connector(server, page_size=200, history_batch_size=50, max_attempts=2)
        with pytest.raises(ConnectorError, match="answered 500") as caught:
            list(hubspot.pages(checkpoint={}, full=False))
        hubspot.close()
    assert caught.value.retryable


def test_prerendered_answers_are_the_answers(sleeps):
    """The benchmark serialises the fake's objects ahead of time: the connector must read the same."""
    hubspot_properties = connector_properties()
    plain = connector_records(CompanyDataset(300))
    store = CompanyDataset(300)
    with FakeHubSpot(store) as server:
        server.prerender(*hubspot_properties)
        hubspot = connector(server, page_size=200)
        prerendered = [r for page in hubspot.pages(checkpoint={}, full=False) for r in page.records]
        hubspot.close()
        assert len(server._rendered) == 600
    assert [(r.external_id, r.customer_since, r.lost_at, r.segment_history) for r in prerendered] == plain


def connector_properties() -> tuple[list[str], list[str]]:
    hubspot = HubSpotConnector(Connection(kind="hubspot", name="t", token=TOKEN,
                                          settings=connection_settings("http://127.0.0.1:9")))  # fmt: skip
    return hubspot._properties, hubspot._history_properties


def test_an_interrupted_full_sync_resumes_from_its_cursor(sleeps):
    with FakeHubSpot(CompanyDataset(250)) as server:
        first = next(connector(server).pages(checkpoint={}, full=True))
        assert first.checkpoint["full_after"] == "100"
        server.requests.clear()
        rest = list(connector(server).pages(checkpoint=first.checkpoint, full=False))
        gets = [path for method, path, _ in server.requests if method == "GET"]
    assert len(gets) == 2 and [len(p.records) + len(p.rejected) for p in rest] == [100, 50]
    assert rest[-1].checkpoint == {"modified_ms": first.checkpoint["full_started_ms"]}


def test_more_records_at_one_timestamp_than_the_search_cap_is_a_clear_error(store, sleeps):
    same = iso_ms(1_700_000_000_000)
    for i in range(1, 31):
        store.put({"id": str(i), "properties": {"name": f"C{i}", "hs_lastmodifieddate": same}})
    with FakeHubSpot(store, search_cap=20) as server:
        pages = connector(server, page_size=10, search_result_cap=20, history=False).pages(checkpoint={}, full=False)
        with pytest.raises(ConnectorError, match="share the modification time") as caught:
            list(pages)
    assert not caught.value.retryable


def test_record_normalisation_reads_strings_and_nulls_defensively(fake_hubspot):
    hubspot = connector(fake_hubspot, segment_map={"tier 1": "Gold"})
    record = hubspot.record_from(
        {"id": 5, "createdAt": "2024-01-01T00:00:00Z", "properties": {
            "name": "  Acme  ", "annualrevenue": "1,234.5", "cx_segment": "Tier 1", "lifecyclestage": "Customer",
            "cx_lost": "TRUE", "cx_lost_date": "1717200000000", "cx_lost_reason": None, "country": "de",
            "hs_lastmodifieddate": "2024-06-02T00:00:00Z"}},
        {"lifecyclestage": [{"value": "customer", "timestamp": "2024-02-01T00:00:00Z"},
                            {"value": "lead", "timestamp": "2024-01-01T00:00:00Z"}]},
    )  # fmt: skip
    assert (record.external_id, record.name, record.value, record.segment, record.country) == (
        "5", "Acme", Decimal("1234.50"), "Gold", "DE")  # fmt: skip
    assert record.is_customer and record.lost and record.lost_reason == ""
    assert record.lost_at == datetime(2024, 6, 1, tzinfo=UTC)
    assert record.customer_since == datetime(2024, 2, 1, tzinfo=UTC)


def test_a_connection_without_a_token_cannot_sync():
    with pytest.raises(ConnectorError, match="No HubSpot token"):
        HubSpotConnector(Connection(kind="hubspot", name="t", settings={}))


def test_the_prefetching_thread_stops_when_the_reader_stops_early(sleeps):
    with FakeHubSpot(CompanyDataset(500)) as server:
        pages = connector(server, page_size=50).pages(checkpoint={}, full=False)
        next(pages)
        pages.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("hubspot-")]


def test_invalid_settings_are_a_clear_permanent_error():
    with pytest.raises(ConnectorError, match="settings are invalid") as caught:
        HubSpotConnector(Connection(kind="hubspot", name="t", token=TOKEN, settings={"page_size": "lots"}))
    assert not caught.value.retryable


def test_pages_keep_to_hubspots_limits_search_200_and_list_100(sleeps):
    with FakeHubSpot(CompanyDataset(450)) as server:
        settings = connection_settings(server.url)
        del settings["page_size"]  # the default: the search endpoint's maximum
        default = HubSpotConnector(Connection(kind="hubspot", name="t", token=TOKEN, settings=settings))
        assert [len(p.records) + len(p.rejected) for p in default.pages(checkpoint={}, full=False)] == [200, 200, 50]
        server.requests.clear()
        full = list(connector(server, page_size=200).pages(checkpoint={}, full=True))
        gets = [method for method, _, _ in server.requests if method == "GET"]
    assert [len(p.records) + len(p.rejected) for p in full] == [100, 100, 100, 100, 50]  # the list endpoint's maximum
    assert len(gets) == 5


def test_operational_date_properties_become_operational_events(fake_hubspot):
    hubspot = connector(
        fake_hubspot,
        operational_properties={"return": "cx_last_return_date", "support_contact": "notes_last_contacted"},
    )
    assert {"cx_last_return_date", "notes_last_contacted"} <= set(hubspot._properties)
    assert {"cx_last_return_date", "notes_last_contacted"} <= set(hubspot._history_properties)
    record = hubspot.record_from(
        {"id": 7, "properties": {"name": "Acme", "lifecyclestage": "customer", "cx_last_return_date": "2024-05-02",
                                 "notes_last_contacted": None, "hs_lastmodifieddate": "2024-06-02T00:00:00Z"}},
        {"cx_last_return_date": [{"value": "2024-05-02", "timestamp": "2024-05-02T10:00:00Z"},
                                 {"value": "2024-03-01", "timestamp": "2024-03-01T09:00:00Z"},
                                 {"value": "not a date", "timestamp": "2024-02-01T09:00:00Z"}],
         "notes_last_contacted": [{"value": "1704067200000", "timestamp": "2024-01-01T00:00:00Z"}]},
    )  # fmt: skip
    local = timezone.get_default_timezone()  # a date without a time is in the site's zone
    assert record.operational == (
        ("support_contact", datetime(2024, 1, 1, tzinfo=UTC)),
        ("return", datetime(2024, 3, 1, tzinfo=local)),
        ("return", datetime(2024, 5, 2, tzinfo=local)),
    )


@pytest.mark.parametrize(
    "setting, message",
    [({"refund": "x"}, "refund is not an operational event type"), ({"return": ""}, "needs the name"),
     (["return"], "maps event types")],
)  # fmt: skip
def test_operational_properties_are_checked(fake_hubspot, setting, message):
    with pytest.raises(ConnectorError, match=message):
        connector(fake_hubspot, operational_properties=setting)
