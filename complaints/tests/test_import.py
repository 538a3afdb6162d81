"""manage.py import_complaints: the columns, bad lines with their reasons, and nothing imported twice."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from complaints.models import Complaint
from core.models import Change
from metrics.tests.factories import CustomerFactory, at

pytestmark = pytest.mark.django_db

GOOD = """id,kind,customer_id,received_at,resolved_at,channel,category,summary
T1,complaint,C-1,2026-01-05T10:00:00,2026-01-06T10:00:00,phone,billing,Charged twice
T2,inquiry,,2026-01-06T09:00:00,,web,Entrega,Where is my parcel?
T3,,C-2,2026-01-07,,In person,Product quality,
"""


def run(tmp_path: Path, text: str, *args) -> tuple[str, str]:
    path = tmp_path / "complaints.csv"
    path.write_text(text, encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command("import_complaints", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def known():
    return CustomerFactory(external_id="C-1"), CustomerFactory(external_id="C-2")


def test_a_file_is_imported_and_a_second_run_imports_nothing_new(tmp_path, known):
    out, _err = run(tmp_path, GOOD)
    assert "rows: 3, imported: 3, already imported (skipped): 0, bad rows: 0" in out
    t1, t2, t3 = Complaint.objects.order_by("external_id")
    assert (t1.customer, t1.kind, t1.channel, t1.category.name) == (known[0], "complaint", "phone", "billing")
    assert t1.received_at == at("2026-01-05", 10) and t1.resolved_at == at("2026-01-06", 10)
    assert (t2.customer, t2.kind, t2.category.name) == (None, "inquiry", "delivery")  # by its Spanish name
    assert (t3.kind, t3.channel, t3.received_at) == ("complaint", "in_person", at("2026-01-07", 0))
    assert {t.source for t in (t1, t2, t3)} == {"import"}
    out, _err = run(tmp_path, GOOD)
    assert "imported: 0, already imported (skipped): 3" in out and "nothing new" in out
    assert Complaint.objects.count() == 3


def test_rows_without_an_id_are_not_imported_twice_either(tmp_path, known):
    text = "received_at,channel,category,customer_id\n2026-01-05T10:00,email,service,C-1\n2026-01-06,phone,other,\n"
    run(tmp_path, text)
    out, _err = run(tmp_path, text)
    assert "imported: 0, already imported (skipped): 2" in out and Complaint.objects.count() == 2


def test_bad_lines_are_listed_and_nothing_is_imported(tmp_path, known):
    text = (
        "id,customer_id,received_at,resolved_at,channel,category\n"
        "B1,C-1,2026-13-01,,phone,billing\n"
        "B2,NOPE,2026-01-05,,phone,billing\n"
        "B3,C-1,2026-01-05,2026-01-04,fax,weather\n"
        "B4,C-1,2026-01-05,,phone,billing\n"
        "B4,C-1,2026-01-06,,phone,billing\n"
    )
    with pytest.raises(CommandError, match="4 bad rows; nothing imported"):
        run(tmp_path, text)
    assert not Complaint.objects.exists()


def test_the_bad_lines_say_why(tmp_path, known):
    text = (
        "id,customer_id,received_at,resolved_at,channel,category\n"
        "B1,C-1,2026-13-01,,phone,billing\n"
        "B2,NOPE,2026-01-05,,phone,billing\n"
        "B3,C-1,2026-01-05,2026-01-04,fax,weather\n"
        "B4,C-1,2026-01-05,,phone,billing\n"
    )
    _out, err = run(tmp_path, text, "--skip-invalid")
    assert "line 2: received_at '2026-13-01' is not an ISO 8601 date or datetime" in err
    assert "line 3: no customer with CRM id 'NOPE'" in err
    assert "line 4: resolved_at is before received_at; channel 'fax' is not one of" in err
    assert "category 'weather' is not a category (known: billing, delivery, other, product quality, service)" in err
    assert "rows: 4, imported: 1" in err
    assert list(Complaint.objects.values_list("external_id", flat=True)) == ["B4"]


def test_missing_columns_stop_the_import(tmp_path):
    with pytest.raises(CommandError, match="The file has no channel, category column"):
        run(tmp_path, "received_at,summary\n2026-01-05,x\n")


def test_map_empty_and_date_format(tmp_path, known):
    text = "ticket;opened;via;topic;client\nX1;05/01/2026 10:00;email;billing;NA\n"
    out, _err = run(
        tmp_path, text, "--map", "ticket=id", "--map", "opened=received_at", "--map", "via=channel",
        "--map", "topic=category", "--map", "client=customer_id", "--empty", "NA", "--date-format", "%d/%m/%Y %H:%M",
    )  # fmt: skip
    assert "imported: 1" in out
    complaint = Complaint.objects.get()
    assert complaint.received_at == at("2026-01-05", 10) and complaint.customer is None


def test_day_first_dates_are_told_from_the_column(tmp_path, known):
    run(tmp_path, "received_at,channel,category\n25/01/2026,email,billing\n03/02/2026,web,other\n")
    assert sorted(c.received_at for c in Complaint.objects.all()) == [at("2026-01-25", 0), at("2026-02-03", 0)]


def test_an_import_records_the_days_for_the_read_model(tmp_path, known):
    Change.objects.all().delete()
    run(tmp_path, GOOD)
    # Complaints of known customers only: the inquiry without one changes nothing the read model keeps.
    days = set(Change.objects.filter(kind="complaints").values_list("day", flat=True))
    assert {d.isoformat() for d in days} == {"2026-01-05", "2026-01-07"}
