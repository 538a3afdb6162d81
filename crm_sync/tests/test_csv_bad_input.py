"""Bad input in CRM CSV files: semicolons, duplicate event ids, dates far off, negative values, NUL
characters and values longer than their column. Each bad line is quarantined with its line number and
reason (and not counted as applied); the good lines are applied. Run on SQLite and PostgreSQL (which
refuses NUL in text)."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from crm_sync.connectors import ConnectorError
from crm_sync.connectors.csv_files import file_pages
from crm_sync.models import Connection, QuarantinedRecord, SyncRun
from crm_sync.services import crm_file_import
from crm_sync.tests.test_services_csv import EVENTS
from customers.models import Customer, Event, Segment

pytestmark = pytest.mark.django_db

EVENT_HEADER = "event_id,type,occurred_at,customer_id,customer_name,customer_email,segment,value,reason,referrer_id,from_segment,to_segment"
CUSTOMER_HEADER = "customer_id,name,email,segment,status,value,acquired_at,lost_at,updated_at"


@pytest.fixture(autouse=True)
def _today_is_14_may_2026():
    with time_machine.travel(datetime(2026, 5, 14, 12, tzinfo=ZoneInfo("UTC")), tick=False):
        yield


@pytest.fixture
def csv_connection() -> Connection:
    Segment.objects.create(name="Silver", rank=1)
    Segment.objects.create(name="Gold", rank=2)
    return Connection.objects.create(kind=Connection.Kind.CSV, name="ERP export")


def import_text(connection, text: str, *, name="events.csv", kind="events"):
    return crm_file_import(connection=connection, stream=io.BytesIO(text.encode()), name=name, kind=kind)


def lines(*rows: str, header: str = EVENT_HEADER) -> str:
    return header + "\n" + "".join(row + "\n" for row in rows)


def quarantined(result) -> dict[str, str]:
    return {source.rsplit(":", 1)[-1]: reason for source, reason in result.quarantined}


# --- semicolons -----------------------------------------------------------------------------------


def test_an_events_file_separated_by_semicolons_is_read_like_one_with_commas(csv_connection):
    result = import_text(csv_connection, EVENTS.replace(",", ";"))
    assert (result.rows, result.events_created, result.quarantined) == (5, 5, [])
    assert Customer.objects.get(external_id="C1").lost_reason == "price"


def test_a_customers_file_separated_by_semicolons_keeps_decimal_commas(csv_connection):
    text = lines("K1;Kappa;;Gold;active;1.234,50;2024-01-10;;", header=CUSTOMER_HEADER.replace(",", ";"))
    result = import_text(csv_connection, text, name="customers.csv", kind="customers")
    assert result.quarantined == []
    kappa = Customer.objects.get(external_id="K1")
    assert (kappa.name, str(kappa.value), kappa.segment.name) == ("Kappa", "1234.50", "Gold")


# --- duplicate event ids --------------------------------------------------------------------------


def test_a_duplicate_event_id_in_one_file_is_reported_and_not_counted_as_applied(csv_connection, tmp_path, capsys):
    path = tmp_path / "events.csv"
    path.write_text(
        lines(
            "e1,new,2024-01-10,C1,Acme,,Gold,12000,,,,",
            "e2,new,2024-02-01,C2,Beta,,Silver,5000,,,,",
            "e1,lost,2024-04-01,C1,,,,,price,,,",
        )
    )
    with pytest.raises(CommandError, match="1 rows were quarantined"):
        call_command("import_crm_events", str(path), "--connection", csv_connection.name)
    out, err = capsys.readouterr()
    assert "events.csv: 3 rows, 2 applied, 2 events created, 1 quarantined" in out
    assert "line 4: duplicate event_id in this file, first seen on line 2" in err
    assert Customer.objects.get(external_id="C1").status == "active"  # the second e1 was not applied
    assert QuarantinedRecord.objects.get().payload == "e1,lost,2024-04-01,C1,,,,,price,,,"


def test_a_duplicate_event_id_on_a_later_page_is_reported_too():
    text = lines("e1,new,2024-01-10,C1,,,,,,,,", "e2,new,2024-01-11,C2,,,,,,,,", "e1,new,2024-01-12,C1,,,,,,,,")
    pages = list(
        file_pages(stream=io.BytesIO(text.encode()), name="events.csv", kind="events", checksum="x",
                   encoding="utf-8-sig", page_size=1)
    )  # fmt: skip
    rejected = [r for page in pages for r in page.rejected]
    assert [(r.source, r.reason) for r in rejected] == [
        ("events.csv:4", "duplicate event_id in this file, first seen on line 2")
    ]
    assert [r.event_id for page in pages for r in page.records] == ["e1", "e2"]


# --- dates far off and negative values ------------------------------------------------------------


def test_events_far_off_or_negative_are_quarantined_with_the_reason(csv_connection):
    text = lines(
        "ok,new,2024-01-10,C1,,,Gold,100,,,,",
        "y1,new,0001-01-01,C2,,,Gold,100,,,,",
        "y9999,new,9999-12-31,C3,,,Gold,100,,,,",
        "y1969,new,1969-12-31T23:59:59,C4,,,Gold,100,,,,",
        "after-tomorrow,new,2026-05-16,C5,,,Gold,100,,,,",
        "offset,new,0001-01-01T00:00:00+05:00,C6,,,Gold,100,,,,",
        "negative,new,2024-01-10,C7,,,Gold,-5,,,,",
        "tomorrow,new,2026-05-15T20:00:00,C8,,,Gold,100,,,,",
    )
    result = import_text(csv_connection, text)
    assert quarantined(result) == {
        "3": "occurred_at 0001-01-01 is before 1970-01-01",
        "4": "occurred_at 9999-12-31 is after 2026-05-15 (tomorrow)",
        "5": "occurred_at 1969-12-31 is before 1970-01-01",
        "6": "occurred_at 2026-05-16 is after 2026-05-15 (tomorrow)",
        "7": "occurred_at 0001-01-01 is before 1970-01-01",
        "8": "value -5.00 is negative",
    }
    assert sorted(Customer.objects.values_list("external_id", flat=True)) == ["C1", "C8"]
    run = SyncRun.objects.get()
    assert (run.records, run.quarantined, run.events_created) == (8, 6, 2)


def test_customers_far_off_or_negative_are_quarantined_with_the_reason(csv_connection):
    text = lines(
        "K1,Kappa,,Gold,active,100,2024-01-10,,",
        "K2,Year one,,Gold,active,100,0001-01-01,,",
        "K3,Lost later,,Gold,lost,100,2024-01-10,9999-12-31,",
        "K4,Negative,,Gold,active,-100,2024-01-10,,",
        "K5,Updated,,Gold,active,100,2024-01-10,,2030-01-01",
        header=CUSTOMER_HEADER,
    )
    result = import_text(csv_connection, text, name="customers.csv", kind="customers")
    assert quarantined(result) == {
        "3": "customer_since 0001-01-01 is before 1970-01-01",
        "4": "lost_at 9999-12-31 is after 2026-05-15 (tomorrow)",
        "5": "value -100.00 is negative",
        "6": "modified_at 2030-01-01 is after 2026-05-15 (tomorrow)",
    }
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["K1"]
    assert Event.objects.get().occurred_at.year == 2024


# --- NUL characters and values longer than their column -------------------------------------------


def test_nul_characters_and_overlong_values_are_quarantined_with_the_column(csv_connection):
    text = lines(
        "ok,new,2024-01-10,C1,Acme,,Gold,100,,,,",
        "nul,new,2024-01-10,C2,Ac\x00me,,Gold,100,,,,",
        "nul-id\x00,new,2024-01-10,C3,,,Gold,100,,,,",
        f"long-customer,new,2024-01-10,{'c' * 101},,,Gold,100,,,,",
        f"long-segment,new,2024-01-10,C4,,,{'s' * 81},100,,,,",
        f"{'e' * 195},new,2024-01-10,C5,,,Gold,100,,,,",
        f"long-reason,lost,2024-02-10,C1,,,,,{'r' * 201},,,",
    )
    result = import_text(csv_connection, text)
    assert quarantined(result) == {
        "3": "customer_name contains a NUL character",
        "4": "event_id contains a NUL character",
        "5": "customer_id is longer than 100 characters (101)",
        "6": "segment is longer than 80 characters (81)",
        "7": "event_id is longer than 194 characters (195)",
        "8": "reason is longer than 200 characters (201)",
    }
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["C1"]
    payload = QuarantinedRecord.objects.get(source="events.csv:3").payload
    assert payload == "nul,new,2024-01-10,C2,Ac\\x00me,,Gold,100,,,,"


def test_a_nul_in_the_header_refuses_the_file(csv_connection):
    with pytest.raises(ConnectorError, match="a column name contains a NUL character"):
        import_text(csv_connection, lines("e1,new,2024-01-10,C1,,,,,,,,", header=EVENT_HEADER + "\x00"))
    assert not Customer.objects.exists()


def test_the_command_lists_the_lines_and_exits_non_zero_without_a_traceback(csv_connection, tmp_path, capsys):
    path = tmp_path / "events.csv"
    path.write_bytes(lines("e1,new,0001-01-01,C1,,,,,,,,", "e2,new,2024-01-10,C2,A\x00,,,,,,,").encode())
    with pytest.raises(CommandError, match="2 rows were quarantined"):
        call_command("import_crm_events", str(path), "--connection", csv_connection.name)
    err = capsys.readouterr().err
    assert "line 2: occurred_at 0001-01-01 is before 1970-01-01" in err
    assert "line 3: customer_name contains a NUL character" in err
    header = tmp_path / "events-header.csv"
    header.write_bytes((EVENT_HEADER + "\x00\ne1,new,2024-01-10,C1,,,,,,,,\n").encode())
    with pytest.raises(CommandError, match="a column name contains a NUL character"):
        call_command("import_crm_events", str(header), "--connection", csv_connection.name)


@pytest.mark.parametrize(
    ("content", "status", "shown"),
    [
        (lines("e1,new,9999-12-31,C1,,,,,,,,", "e2,new,2024-01-10,C2,A\x00,,,,,,,"), 302, "2 quarantined"),
        (lines("e1,new,2024-01-10,C1,,,,,,,,", header=EVENT_HEADER + "\x00"), 200, "a column name contains a NUL"),
    ],
)
def test_the_admin_upload_never_answers_500(client, csv_connection, content, status, shown):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    url = reverse("admin:crm_sync_connection_upload", args=[csv_connection.pk])
    upload = SimpleUploadedFile("events.csv", content.encode(), content_type="text/csv")
    response = client.post(url, {"file": upload})
    assert response.status_code == status
    if status == 302:  # applied: the connection page says how many lines were quarantined
        response = client.get(response["Location"])
    assert shown in response.content.decode()
