"""crm_records_apply refuses records that cannot be right, whichever connector sent them: the
record is quarantined with the reason and the rest of the page is applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from crm_sync.models import Connection
from customers.models import Customer, Event
from customers.records import CustomerRecord, EventRecord, HistoryEntry
from customers.services import crm_records_apply

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 14, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _today_is_14_may_2026():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def hubspot() -> Connection:
    return Connection.objects.create(kind="hubspot", name="HS", secret_token="x")


def customer(external_id: str, **fields) -> CustomerRecord:
    values = {"is_customer": True, "customer_since": datetime(2025, 1, 1, tzinfo=UTC),
              "modified_at": datetime(2025, 1, 2, tzinfo=UTC), **fields}  # fmt: skip
    return CustomerRecord(external_id=external_id, source=f"hubspot:companies:{external_id}", **values)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"customer_since": datetime(1, 1, 1, tzinfo=UTC)}, "customer_since 0001-01-01 is before 1970-01-01"),
        ({"lost": True, "lost_at": datetime(9999, 12, 31, tzinfo=UTC)}, "lost_at 9999-12-31 is after 2026-05-15"),
        ({"referred_by": "X", "referred_at": datetime(1969, 12, 31, 23, tzinfo=UTC)}, "referred_at 1969-12-31"),
        ({"created_at": datetime(1900, 1, 1, tzinfo=UTC)}, "created_at 1900-01-01 is before"),
        ({"modified_at": NOW + timedelta(days=2)}, "modified_at 2026-05-16 is after 2026-05-15 (tomorrow)"),
        (
            {"segment_history": (HistoryEntry(datetime(1, 1, 1, tzinfo=UTC), "Gold"),)},
            "segment history 0001-01-01 is before 1970-01-01",
        ),
        ({"value": Decimal("-1.00")}, "value -1.00 is negative"),
        ({"name": "Ac\x00me"}, "a value contains a NUL character"),
        ({"segment_history": (HistoryEntry(NOW, "Go\x00ld"),)}, "a value contains a NUL character"),
    ],
)
def test_a_customer_that_cannot_be_right_is_rejected_with_the_reason(hubspot, fields, reason):
    result = crm_records_apply(connection=hubspot, records=[customer("GOOD"), customer("BAD", **fields)])
    assert [r.source for r in result.rejected] == ["hubspot:companies:BAD"]
    assert reason in result.rejected[0].reason
    assert "\x00" not in result.rejected[0].payload  # repr() writes it as \x00: the quarantine can store it
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["GOOD"]


def test_tomorrow_is_allowed_for_a_source_ahead_of_the_site(hubspot):
    result = crm_records_apply(connection=hubspot, records=[customer("A", modified_at=NOW + timedelta(days=1))])
    assert result.rejected == []


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"occurred_at": datetime(1, 1, 1, tzinfo=UTC)}, "occurred_at 0001-01-01 is before 1970-01-01"),
        ({"value": Decimal("-0.01")}, "value -0.01 is negative"),
        ({"customer_id": "C\x00"}, "a value contains a NUL character"),
    ],
)
def test_an_event_that_cannot_be_right_is_rejected_before_any_query(hubspot, fields, reason):
    values = {"event_id": "e1", "type": "new", "occurred_at": datetime(2025, 1, 1, tzinfo=UTC),
              "customer_id": "C1", "source": "events.csv:2", **fields}  # fmt: skip
    result = crm_records_apply(connection=hubspot, records=[EventRecord(**values)])
    assert [(r.source, r.reason) for r in result.rejected] == [("events.csv:2", reason)]
    assert not Event.objects.exists()
