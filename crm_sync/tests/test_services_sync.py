"""crm_sync_run against the fake HubSpot server: the "done when" of issue 4."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm_sync.connectors import Connector, ConnectorError
from crm_sync.connectors.base import Page
from crm_sync.connectors.hubspot import HubSpotConnector
from crm_sync.models import Connection, QuarantinedRecord, SyncRun
from crm_sync.services import SyncAlreadyRunning, crm_sync_run
from crm_sync.tests.fake_hubspot import TOKEN, FakeHubSpot, iso_ms, to_ms
from crm_sync.tests.hubspot_data import Company, CompanyDataset
from customers.models import Customer, Event

pytestmark = pytest.mark.django_db


def stored_events(connection: Connection) -> list[tuple]:
    """Events in the shape of CompanyDataset.expected_events."""
    result = []
    rows = Event.objects.filter(connection=connection).select_related(
        "customer", "from_segment", "to_segment", "referrer"
    )
    for e in rows:
        if e.type == "new":
            result.append(("new", e.customer.external_id, e.occurred_at, e.segment.name, e.value))
        elif e.type == "segment_move":
            result.append(("segment_move", e.customer.external_id, e.occurred_at, e.from_segment.name,
                           e.to_segment.name))  # fmt: skip
        elif e.type == "lost":
            result.append(("lost", e.customer.external_id, e.occurred_at, e.reason, e.value))
        else:
            result.append(("referral", e.customer.external_id, e.occurred_at, e.referrer.external_id))
    return result


def key(event: tuple) -> tuple:
    return tuple(f"{part:.2f}" if isinstance(part, Decimal) else str(part) for part in event)


@pytest.mark.slow
def test_sync_of_20000_companies_yields_exactly_the_expected_events_and_a_second_sync_none(
    make_hubspot_connection, sleeps
):
    data = CompanyDataset(20_000)
    with FakeHubSpot(data) as server:
        connection = make_hubspot_connection(server, page_size=200, history_batch_size=100)
        server.fail(429, headers={"Retry-After": "2"}, path_contains="/search")
        server.fail(500, path_contains="/batch/read")

        run = crm_sync_run(connection=connection)

        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        expected = data.expected_events()
        assert sorted(map(key, stored_events(connection))) == sorted(map(key, expected))
        assert run.events_created == len(expected)
        # Records at the re-anchoring timestamp are read twice (harmless: nothing changes the second time).
        assert 20_000 <= run.records <= 20_010
        assert run.quarantined == len(data.malformed_ids()) == 20
        assert set(QuarantinedRecord.objects.values_list("source", flat=True)) == {
            f"hubspot:companies:{i}" for i in data.malformed_ids()
        }
        assert 2 in sleeps  # the Retry-After was honoured
        # The 10 000-result cap: the search was re-anchored instead of paging past it.
        searches = [body for method, path, body in server.requests if path.endswith("/search")]
        assert all(int(body.get("after") or 0) < 10_000 for body in searches)
        assert len({body["filterGroups"][0]["filters"][0]["value"] for body in searches}) >= 2
        assert Customer.objects.filter(status="lost").count() == sum(1 for e in expected if e[0] == "lost")

        connection.refresh_from_db()
        second = crm_sync_run(connection=connection)
        assert second.status == SyncRun.Status.SUCCEEDED
        assert second.events_created == 0
        assert Event.objects.count() == len(expected)
        assert QuarantinedRecord.objects.count() == 20  # re-read, still counted, not stored twice


def test_incremental_sync_derives_events_from_changes_since_the_checkpoint(make_hubspot_connection, sleeps):
    data = CompanyDataset(300)
    with FakeHubSpot(data) as server:
        connection = make_hubspot_connection(server, page_size=50)
        crm_sync_run(connection=connection)
        before = Event.objects.count()
        connection.refresh_from_db()
        checkpoint = connection.checkpoint["modified_ms"]

        # Company 0 moves Bronze -> Gold, company 1 is lost; both modified after the checkpoint.
        later = checkpoint + 3_600_000
        moved = Company(0).hubspot()
        moved["properties"].update(cx_segment="Gold", hs_lastmodifieddate=iso_ms(later))
        moved["history"]["cx_segment"].append((later - 1000, "Gold"))
        lost = Company(1).hubspot()
        lost["properties"].update(cx_lost="true", cx_lost_reason="price", hs_lastmodifieddate=iso_ms(later + 1))
        data.overrides = {"1": moved, "2": lost}
        server.changed()
        server.requests.clear()

        run = crm_sync_run(connection=connection)

    assert run.events_created == 2
    assert Event.objects.count() == before + 2
    move = Event.objects.get(type="segment_move", customer__external_id="1")
    assert (move.from_segment.name, move.to_segment.name) == ("Bronze", "Gold")
    assert move.occurred_at == datetime.fromtimestamp((later - 1000) / 1000, tz=UTC)
    loss = Event.objects.get(type="lost", customer__external_id="2")
    assert loss.reason == "price"
    assert loss.occurred_at == datetime.fromtimestamp((later + 1) / 1000, tz=UTC)
    assert Customer.objects.get(external_id="2").status == "lost"
    # The search started from the checkpoint minus the overlap, not from the beginning.
    first = server.requests[0][2]
    assert int(first["filterGroups"][0]["filters"][0]["value"]) == checkpoint - 10 * 60_000


def test_search_cap_re_anchors_at_the_last_timestamp(make_hubspot_connection, sleeps):
    data = CompanyDataset(700)
    with FakeHubSpot(data, search_cap=200) as server:
        connection = make_hubspot_connection(server, page_size=50, search_result_cap=200)
        run = crm_sync_run(connection=connection)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert Customer.objects.count() == 700 - len(data.malformed_ids())
    assert sorted(map(key, stored_events(connection))) == sorted(map(key, data.expected_events()))


def test_full_sync_reads_the_list_endpoint_and_sets_the_checkpoint(make_hubspot_connection, sleeps):
    data = CompanyDataset(250)
    with FakeHubSpot(data) as server:
        connection = make_hubspot_connection(server, page_size=100)
        run = crm_sync_run(connection=connection, full=True)
        assert not any(path.endswith("/search") for path in server.paths())
        assert server.paths("GET") == ["/crm/v3/objects/companies"] * 3
    assert run.status == SyncRun.Status.SUCCEEDED
    assert sorted(map(key, stored_events(connection))) == sorted(map(key, data.expected_events()))
    connection.refresh_from_db()
    assert set(connection.checkpoint) == {"modified_ms"}
    assert connection.checkpoint["modified_ms"] <= to_ms(timezone.now())


class Interrupted(Exception):
    pass


class InterruptingConnector(HubSpotConnector):
    """Dies after ``pages_before_crash`` pages, like a worker killed in the middle of a sync."""

    def __init__(self, connection, pages_before_crash: int):
        super().__init__(connection)
        self.pages_before_crash = pages_before_crash

    def pages(self, *, checkpoint, full):
        for number, page in enumerate(super().pages(checkpoint=checkpoint, full=full)):
            if number == self.pages_before_crash:
                raise Interrupted
            yield page


def test_interrupted_sync_resumes_from_the_committed_checkpoint_without_loss_or_duplicates(
    make_hubspot_connection, sleeps
):
    data = CompanyDataset(600)
    with FakeHubSpot(data) as server:
        connection = make_hubspot_connection(server, page_size=50)
        with pytest.raises(Interrupted):
            crm_sync_run(connection=connection, connector=InterruptingConnector(connection, pages_before_crash=4))
        connection.refresh_from_db()
        committed = connection.checkpoint["modified_ms"]
        failed = SyncRun.objects.get()
        assert failed.status == SyncRun.Status.FAILED and failed.pages == 4
        # The checkpoint is the newest modification among the 200 committed records.
        order = sorted((Company(i).modified_ms, i + 1) for i in range(600))
        assert committed == order[199][0]
        assert Customer.objects.filter(external_id__in=[str(i) for _, i in order[:200]]).count() == 200

        server.requests.clear()
        crm_sync_run(connection=connection)
        assert int(server.requests[0][2]["filterGroups"][0]["filters"][0]["value"]) == committed - 600_000
    assert sorted(map(key, stored_events(connection))) == sorted(map(key, data.expected_events()))


def test_token_rejected_fails_the_run_at_once_without_retries_or_token_in_the_error(make_hubspot_connection, sleeps):
    with FakeHubSpot(CompanyDataset(10), token="another-token") as server:
        connection = make_hubspot_connection(server)
        with pytest.raises(ConnectorError) as caught:
            crm_sync_run(connection=connection)
        assert len(server.requests) == 1
    assert not caught.value.retryable
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert "token rejected" in run.error
    assert TOKEN not in run.error and TOKEN not in str(caught.value)
    assert sleeps == []


def test_missing_scopes_fail_the_run_with_a_clear_message(make_hubspot_connection, sleeps):
    with FakeHubSpot(CompanyDataset(10)) as server:
        server.missing_scopes = True
        connection = make_hubspot_connection(server)
        with pytest.raises(ConnectorError):
            crm_sync_run(connection=connection)
    assert "missing scopes" in SyncRun.objects.get().error


def test_server_errors_are_retried_with_backoff_then_fail_the_run(make_hubspot_connection, sleeps):
    with FakeHubSpot(CompanyDataset(10)) as server:
        server.fail(503, times=10)
        connection = make_hubspot_connection(server, max_attempts=4, backoff_seconds=1)
        with pytest.raises(ConnectorError) as caught:
            crm_sync_run(connection=connection)
        assert len(server.requests) == 4
    assert caught.value.retryable
    assert [round(s) for s in sleeps] == [1, 2, 4]
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert "503" in run.error and "gave up after 4 attempts" in run.error
    connection.refresh_from_db()
    assert connection.checkpoint == {}


def test_a_second_sync_while_one_is_running_is_refused(make_hubspot_connection):
    with FakeHubSpot(CompanyDataset(10)) as server:
        connection = make_hubspot_connection(server)
        SyncRun.objects.create(connection=connection)
        with pytest.raises(SyncAlreadyRunning):
            crm_sync_run(connection=connection)
    assert SyncRun.objects.count() == 1


def test_a_running_row_without_heartbeat_for_the_dead_after_time_is_failed_and_the_sync_proceeds(
    make_hubspot_connection, sleeps, settings
):
    settings.CRM_SYNC_DEAD_AFTER_SECONDS = 240
    with FakeHubSpot(CompanyDataset(10)) as server:
        connection = make_hubspot_connection(server)
        dead = SyncRun.objects.create(connection=connection)
        last_beat = timezone.now() - timedelta(seconds=250)
        SyncRun.objects.filter(pk=dead.pk).update(heartbeat_at=last_beat)
        run = crm_sync_run(connection=connection)
    assert run.status == SyncRun.Status.SUCCEEDED
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED and dead.finished_at is not None
    assert dead.error.startswith("The worker stopped: no heartbeat since ")
    assert timezone.localtime(last_beat).strftime("%H:%M:%S") in dead.error


def test_a_long_run_whose_heartbeat_is_recent_is_alive(make_hubspot_connection, settings):
    settings.CRM_SYNC_DEAD_AFTER_SECONDS = 240
    with FakeHubSpot(CompanyDataset(10)) as server:
        connection = make_hubspot_connection(server)
        SyncRun.objects.create(connection=connection, heartbeat_at=timezone.now() - timedelta(seconds=200))
        SyncRun.objects.update(started_at=timezone.now() - timedelta(hours=3))
        with pytest.raises(SyncAlreadyRunning) as refused:
            crm_sync_run(connection=connection)
    assert refused.value.active.status == SyncRun.Status.RUNNING
    assert SyncRun.objects.get().status == SyncRun.Status.RUNNING


def test_malformed_records_are_quarantined_and_the_run_goes_on(make_hubspot_connection, store, sleeps):
    with FakeHubSpot(store) as server:
        now = iso_ms(to_ms(timezone.now()))
        good = {"name": "Good", "lifecyclestage": "customer", "annualrevenue": "1,200.50", "hs_lastmodifieddate": now}
        store.put({"id": "1", "properties": good})
        store.put({"id": "2", "properties": {**good, "annualrevenue": "twelve"}})
        store.put({"id": "3", "properties": {**good, "cx_lost": "maybe"}})
        store.put({"id": "4", "properties": {**good, "cx_lost_date": "31/31/2024", "cx_lost": "true"}})
        store.put({"id": "5", "properties": {**good, "annualrevenue": None, "name": None, "country": "  "}})
        connection = make_hubspot_connection(server)
        run = crm_sync_run(connection=connection)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.records, run.quarantined) == (5, 3)
    reasons = dict(QuarantinedRecord.objects.values_list("source", "reason"))
    assert reasons == {
        "hubspot:companies:2": "annualrevenue: 'twelve' is not a number",
        "hubspot:companies:3": "cx_lost: 'maybe' is not a yes/no value",
        "hubspot:companies:4": "cx_lost_date: '31/31/2024' is not a date",
    }
    assert '"annualrevenue": "twelve"' in QuarantinedRecord.objects.get(source="hubspot:companies:2").payload
    assert Customer.objects.get(external_id="1").value == Decimal("1200.50")
    assert Customer.objects.get(external_id="5").value == 0
    assert Event.objects.filter(type="new").count() == 2


def test_contacts_connection_is_b2c_and_reads_contact_properties(make_hubspot_connection, sleeps):
    from crm_sync.tests.fake_hubspot import DictStore

    store = DictStore(modified_property="lastmodifieddate")
    store.put({
        "id": "77",
        "properties": {"firstname": "Ana", "lastname": "Ruiz", "email": "ANA@example.com", "hs_language": "es-es",
                       "country": "es", "lifecyclestage": "customer", "lastmodifieddate": iso_ms(1_700_000_000_000)},
        "history": {"lifecyclestage": [(1_600_000_000_000, "lead"), (1_650_000_000_000, "customer")]},
    })  # fmt: skip
    with FakeHubSpot(store) as server:
        connection = make_hubspot_connection(server, object_type="contacts", properties={})
        crm_sync_run(connection=connection)
        body = server.requests[0][2]
    assert server.requests[0][1] == "/crm/v3/objects/contacts/search"
    assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    customer = Customer.objects.get()
    assert (customer.name, customer.email, customer.language, customer.country, customer.audience) == (
        "Ana Ruiz", "ana@example.com", "es", "ES", "b2c",
    )  # fmt: skip
    assert Event.objects.get().occurred_at == datetime.fromtimestamp(1_650_000_000, tz=UTC)


def test_a_run_that_doubles_a_table_refreshes_its_planner_statistics(postgres_db, hubspot_for_statistics):
    from django.db import connection as db

    from crm_sync.services.runs import TableStatistics
    from customers.tests.factories import CustomerFactory

    def reltuples() -> float:
        with db.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'crm_sync_customer'::regclass")
            return cursor.fetchone()[0]

    statistics = TableStatistics()
    statistics.tables[Customer] = 0.0  # as in an empty database
    CustomerFactory.create_batch(1200, connection=hubspot_for_statistics)
    statistics.grew(customers=1200, events=0)
    assert reltuples() == pytest.approx(Customer.objects.count(), abs=5)
    assert statistics.tables[Customer] == reltuples()
    statistics.grew(customers=10, events=10)  # far from doubling: no ANALYZE
    assert statistics.added[Customer] == 10


@pytest.fixture
def hubspot_for_statistics() -> Connection:
    return Connection.objects.create(kind="hubspot", name="Stats", token=TOKEN)


@pytest.mark.django_db(transaction=True)
def test_a_page_commits_without_waiting_for_the_disk_and_only_that_page(postgres_db, monkeypatch):
    import io

    from django.db import connection as db

    import crm_sync.services.runs as runs
    from crm_sync.services import crm_file_import

    seen = []
    real = runs.crm_records_apply

    def spy(**kwargs):
        with db.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])
        return real(**kwargs)

    monkeypatch.setattr(runs, "crm_records_apply", spy)
    csv = Connection.objects.create(kind=Connection.Kind.CSV, name="Async")
    text = "event_id,type,occurred_at,customer_id\n" + "".join(f"e{i},new,2024-01-0{i},C{i}\n" for i in range(1, 4))
    result = crm_file_import(connection=csv, stream=io.BytesIO(text.encode()), name="events.csv", kind="events")
    assert result.events_created == 3
    assert seen == ["off"]  # one page, its transaction only
    with db.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


class SlowConnector(Connector):
    """One page that takes ``seconds`` to read, during which it looks at the run's stored heartbeat."""

    def __init__(self, connection: Connection, seconds: float) -> None:
        super().__init__(connection)
        self.seconds = seconds
        self.heartbeats: list = []

    def pages(self, *, checkpoint: dict, full: bool):
        run = SyncRun.objects.get(connection=self.connection, status=SyncRun.Status.RUNNING)
        self.heartbeats.append(run.heartbeat_at)
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            time.sleep(0.05)
        self.heartbeats.append(SyncRun.objects.get(pk=run.pk).heartbeat_at)
        yield Page(checkpoint={"done": True})


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_moves_while_a_long_page_is_read(monkeypatch):
    """A page that takes longer than the dead-after time does not make a live run look dead."""
    from crm_sync.services import runs

    monkeypatch.setattr(runs, "heartbeat_seconds", lambda: 0.2)
    connection = Connection.objects.create(kind=Connection.Kind.CSV, name="slow")
    connector = SlowConnector(connection, seconds=1.0)
    run = crm_sync_run(connection=connection, connector=connector)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    started, during = connector.heartbeats
    assert during - started >= timedelta(seconds=0.5)  # several beats, with no page committed
    assert run.pages == 1
