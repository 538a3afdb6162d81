"""CSV imports: events.csv histories and customers.csv snapshots, through the sync code path."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crm_sync.connectors import ConnectorError
from crm_sync.models import Connection, ProcessedFile, QuarantinedRecord
from crm_sync.services import crm_events_import, crm_file_import, crm_sync_run
from customers.models import Customer, Event, Segment

pytestmark = pytest.mark.django_db

HEADER = "event_id,type,occurred_at,customer_id,customer_name,customer_email,segment,value,reason,referrer_id,from_segment,to_segment\n"
EVENTS = HEADER + (
    "e1,new,2024-01-10,C1,Acme,ops@acme.test,Gold,12000,,,,\n"
    "e2,new,2024-02-01T09:30:00Z,C2,Beta,,Silver,5000,,,,\n"
    "e3,referral,2024-02-15,C3,Gamma,gamma@example.com,,,,C1,,\n"
    "e4,segment_move,2024-03-01,C2,,,,6000,,,Silver,Gold\n"
    "e5,lost,2024-04-01,C1,,,,,price,,,\n"
)


@pytest.fixture
def csv_connection() -> Connection:
    Segment.objects.create(name="Silver", rank=1)
    Segment.objects.create(name="Gold", rank=2)
    return Connection.objects.create(kind=Connection.Kind.CSV, name="ERP export")


def import_text(connection, text: str, *, name="events.csv", encoding="utf-8", kind="events"):
    return crm_file_import(connection=connection, stream=io.BytesIO(text.encode(encoding)), name=name, kind=kind)


def test_an_event_history_becomes_events_and_customer_states(csv_connection):
    result = import_text(csv_connection, EVENTS)
    assert (result.rows, result.events_created, result.quarantined) == (5, 5, [])
    c1 = Customer.objects.get(external_id="C1")
    assert (c1.status, c1.lost_reason, c1.segment.name, c1.value, c1.email) == ("lost", "price", "Gold",
                                                                                Decimal("12000"), "ops@acme.test")  # fmt: skip
    assert c1.acquired_at == datetime(2024, 1, 10, tzinfo=UTC)
    c2 = Customer.objects.get(external_id="C2")
    assert (c2.status, c2.segment.name, c2.value) == ("active", "Gold", Decimal("6000"))
    # The referred party is not a customer yet: a prospect, referred by C1.
    c3 = Customer.objects.get(external_id="C3")
    assert (c3.status, c3.name, c3.referred_by) == ("prospect", "Gamma", c1)
    referral = Event.objects.get(type="referral")
    assert (referral.customer, referral.referrer, referral.segment.name) == (c3, c1, "Gold")
    lost = Event.objects.get(type="lost")
    assert (lost.value, lost.reason, lost.segment.name) == (Decimal("12000"), "price", "Gold")
    move = Event.objects.get(type="segment_move")
    assert (move.from_segment.name, move.to_segment.name, move.value) == ("Silver", "Gold", Decimal("6000"))


def test_the_same_file_is_never_applied_twice_and_a_replayed_history_changes_nothing(csv_connection):
    import_text(csv_connection, EVENTS)
    assert import_text(csv_connection, EVENTS).already_processed
    # Same rows in another file (another checksum): every event is known, no state moves.
    Customer.objects.filter(external_id="C2").update(name="Renamed")
    again = import_text(csv_connection, EVENTS + "\n", name="events-again.csv")
    assert (again.rows, again.events_created) == (5, 0)
    assert Event.objects.count() == 5
    assert Customer.objects.get(external_id="C2").name == "Renamed"
    assert ProcessedFile.objects.count() == 2


def test_a_malformed_row_is_quarantined_with_its_line_and_the_rest_applied(csv_connection):
    bad = EVENTS.replace("e4,segment_move,2024-03-01", "e4,segment_move,2024-13-01") + (
        "e6,upgrade,2024-05-01,C2,,,,,,,,\n"
        "e7,referral,2024-05-02,C9,,,,,,,,\n"
        "e8,new,2024-05-03,C8\n"
        "e9,new,2024-05-04,C7,Delta,,Silver,not money,,,,\n"
    )
    result = import_text(csv_connection, bad)
    assert result.rows == 9 and result.events_created == 4
    assert result.quarantined == [
        ("events.csv:5", "occurred_at: '2024-13-01' is not a date"),
        (
            "events.csv:7",
            "type 'upgrade' is not one of claim, invoice_correction, lost, new, referral, return, segment_move, "
            "service_change, support_contact",
        ),
        ("events.csv:8", "a referral needs referrer_id"),
        ("events.csv:9", "expected 12 columns, found 4"),
        ("events.csv:10", "value: 'not money' is not a number"),
    ]
    stored = QuarantinedRecord.objects.get(source="events.csv:9")
    assert stored.payload == "e8,new,2024-05-03,C8" and stored.run_id == result.run.pk
    assert result.run.quarantined == 5


def test_windows_1252_files_are_read(csv_connection):
    text = HEADER + "e1,new,2024-01-10,C1,Société Générale,,Gold,100,,,,\n"
    import_text(csv_connection, text, encoding="cp1252")
    assert Customer.objects.get().name == "Société Générale"


def test_utf8_with_bom_and_header_case_are_accepted(csv_connection):
    text = "\ufeff" + HEADER.upper() + "e1,new,2024-01-10,C1,Müller GmbH,,Gold,100,,,,\n"
    import_text(csv_connection, text, encoding="utf-8")
    assert Customer.objects.get().name == "Müller GmbH"


def test_a_file_without_the_required_columns_is_refused(csv_connection):
    with pytest.raises(ConnectorError, match="has no event_id, type column"):
        import_text(csv_connection, "occurred_at,customer_id\n2024-01-01,C1\n")


CUSTOMERS = (
    "customer_id,name,email,segment,value,status,acquired_at,lost_at,lost_reason,referred_by,updated_at\n"
    "A1,Alpha,a@example.com,Silver,100,active,2024-01-01,,,,2024-06-01\n"
    "A2,Bravo,b@example.com,Gold,200,active,2024-02-01,,,A1,2024-06-01\n"
    "A3,Charlie,,Silver,300,prospect,,,,,2024-06-01\n"
)


def test_changes_between_customer_snapshots_become_events(csv_connection, tmp_path):
    csv_connection.settings = {"folder": str(tmp_path)}
    csv_connection.save()
    (tmp_path / "customers-2024-06-01.csv").write_text(CUSTOMERS)
    first = crm_sync_run(connection=csv_connection)
    assert first.events_created == 3  # two new, one referral
    assert crm_sync_run(connection=csv_connection).events_created == 0  # the file is remembered

    (tmp_path / "customers-2024-07-01.csv").write_text(
        "customer_id,name,email,segment,value,status,acquired_at,lost_at,lost_reason,referred_by,updated_at\n"
        "A1,Alpha,a@example.com,Gold,150,active,2024-01-01,,,,2024-07-01\n"
        "A2,Bravo,b@example.com,Gold,200,lost,2024-02-01,2024-06-20,price,A1,2024-07-01\n"
        "A3,Charlie,,Silver,300,active,2024-06-15,,,,2024-07-01\n"
    )
    second = crm_sync_run(connection=csv_connection)
    assert second.events_created == 3
    events = {(e.type, e.customer.external_id, e.occurred_at.date().isoformat())
              for e in Event.objects.filter(occurred_at__gte=datetime(2024, 6, 2, tzinfo=UTC))}  # fmt: skip
    assert events == {("segment_move", "A1", "2024-07-01"), ("lost", "A2", "2024-06-20"), ("new", "A3", "2024-06-15")}
    assert ProcessedFile.objects.filter(connection=csv_connection).count() == 2


def test_import_crm_events_service_defaults_to_the_embedded_csv_connection(tmp_path, csv_connection):
    path = tmp_path / "events.csv"
    path.write_text(EVENTS)
    result = crm_events_import(path=path)
    assert result.events_created == 5
    assert Event.objects.get(source_key="event:e1").connection.name == "CSV files"


def test_a_missing_import_folder_fails_the_run_with_a_clear_error(csv_connection, tmp_path):
    csv_connection.settings = {"folder": str(tmp_path / "nowhere")}
    csv_connection.save()
    with pytest.raises(ConnectorError, match="does not exist"):
        crm_sync_run(connection=csv_connection)
    run = csv_connection.runs.get()
    assert run.status == "failed" and "does not exist" in run.error
