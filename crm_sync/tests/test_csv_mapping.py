"""events.csv files written by other tools: column mapping, empty tokens and a date format."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from crm_sync.connectors import ConnectorError
from crm_sync.models import Connection
from crm_sync.services import crm_file_import
from customers.models import Customer, Event, Segment

pytestmark = pytest.mark.django_db

# A telecom churn sample's own names, day-first dates and R's NA.
CHURN = (
    "eventID,kind,date,customerID,Segment,MonthlyCharges,Churn Reason\n"
    "t1,new,05/01/2024,7590-VHVEG,Silver,29.85,NA\n"
    "t2,new,20/01/2024,5575-GNVDE,Gold,56.95,NA\n"
    "t3,lost,13/03/2024,7590-VHVEG,NA,NA,Competitor offered higher download speeds\n"
)
CHURN_MAP = {
    "eventID": "event_id",
    "kind": "type",
    "date": "occurred_at",
    "customerID": "customer_id",
    "Segment": "segment",
    "MonthlyCharges": "value",
    "Churn Reason": "reason",
}


@pytest.fixture
def csv_connection() -> Connection:
    Segment.objects.create(name="Silver", rank=1)
    Segment.objects.create(name="Gold", rank=2)
    return Connection.objects.create(kind=Connection.Kind.CSV, name="Churn sample")


def _import(connection, text, **options):
    return crm_file_import(
        connection=connection, stream=io.BytesIO(text.encode()), name="churn.csv", kind="events", **options
    )


def test_a_churn_sample_imports_with_a_mapping_empty_tokens_and_a_date_format(csv_connection):
    result = _import(csv_connection, CHURN, mapping=CHURN_MAP, empty=["NA"], date_format="%d/%m/%Y")
    assert result.run.quarantined == 0, result.quarantined
    lost = Event.objects.get(type=Event.Type.LOST)
    assert (lost.occurred_at.date().isoformat(), lost.reason) == (
        "2024-03-13",
        "Competitor offered higher download speeds",
    )
    assert Customer.objects.get(external_id="5575-GNVDE").segment.name == "Gold"
    assert not Segment.objects.filter(name="NA").exists()


def test_a_date_not_matching_the_format_is_quarantined_with_its_reason(csv_connection):
    text = CHURN.replace("20/01/2024", "2024-01-20")
    result = _import(csv_connection, text, mapping=CHURN_MAP, empty=["NA"], date_format="%d/%m/%Y")
    assert result.quarantined[0][1] == "occurred_at: '2024-01-20' does not match the date format '%d/%m/%Y'"


def test_a_mapping_to_an_unknown_column_or_from_a_missing_one_is_refused(csv_connection):
    with pytest.raises(ConnectorError, match=r"'kind_of_event' is not a column we import \(one of: event_id, type"):
        _import(csv_connection, CHURN, mapping={**CHURN_MAP, "kind": "kind_of_event"})
    with pytest.raises(ConnectorError, match=r"the file has no column 'tenure'"):
        _import(csv_connection, CHURN, mapping={**CHURN_MAP, "tenure": "value"})
    assert not Event.objects.exists()


def test_import_crm_events_command_takes_map_empty_and_date_format(tmp_path, capsys, csv_connection):
    path = tmp_path / "churn.csv"
    path.write_text(CHURN)
    maps = [arg for source, target in CHURN_MAP.items() for arg in ("--map", f"{source}={target}")]
    call_command(
        "import_crm_events", str(path), "--connection", "Churn sample", *maps, "--empty", "NA",
        "--date-format", "%d/%m/%Y",
    )  # fmt: skip
    assert "churn.csv: 3 rows, 3 applied, 3 events created, 0 quarantined" in capsys.readouterr().out
    with pytest.raises(CommandError, match="is not a column we import"):
        call_command("import_crm_events", str(path), "--map", "kind=sort")
