"""crm_records_apply: bulk upserts, placeholders and the fixed query budget of a page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from crm_sync.connectors.base import CustomerRecord
from crm_sync.models import Connection, Customer, Event
from crm_sync.services import crm_records_apply
from crm_sync.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hubspot() -> Connection:
    return Connection.objects.create(kind="hubspot", name="HS", secret_token="x")


def customer(external_id: str, day: int, **fields) -> CustomerRecord:
    return CustomerRecord(external_id=external_id, source=f"test:{external_id}", is_customer=True,
                          customer_since=datetime(2025, 1, 1, tzinfo=UTC),
                          modified_at=datetime(2025, 1, day, tzinfo=UTC), **fields)  # fmt: skip


def test_a_referrer_not_yet_synced_is_a_prospect_until_its_record_arrives(hubspot):
    crm_records_apply(connection=hubspot, records=[customer("C", 2, name="Cee", referred_by="X")])
    placeholder = Customer.objects.get(external_id="X")
    assert placeholder.status == "prospect"
    assert Customer.objects.get(external_id="C").referred_by == placeholder
    assert Event.objects.get(type="referral").referrer == placeholder

    crm_records_apply(connection=hubspot, records=[customer("X", 3, name="Xco", value=Decimal("10"))])
    x = Customer.objects.get(external_id="X")
    assert (x.pk, x.status, x.name) == (placeholder.pk, "active", "Xco")
    assert Event.objects.filter(type="new", customer=x).count() == 1


def test_a_customer_outside_the_page_is_never_overwritten(hubspot):
    crm_records_apply(connection=hubspot, records=[customer("X", 2, name="Xco"), customer("C", 2, referred_by="X")])
    # C again, referred-by now blank in the CRM; X is not in this page.
    crm_records_apply(connection=hubspot, records=[customer("C", 3, name="Cee renamed")])
    x = Customer.objects.get(external_id="X")
    assert (x.name, x.status) == ("Xco", "active")
    assert Customer.objects.get(external_id="C").referred_by == x


def test_a_page_costs_a_fixed_number_of_queries(hubspot):
    SegmentFactory(name="Gold", rank=2)
    SegmentFactory(name="Silver", rank=1)

    def page(day: int, segment: str) -> list[CustomerRecord]:
        return [customer(str(i), day, name=f"C{i}", segment=segment, referred_by=str(i + 1000)) for i in range(200)]

    with CaptureQueriesContext(db_connection) as first:
        crm_records_apply(connection=hubspot, records=page(2, "Silver"))
    with CaptureQueriesContext(db_connection) as second:
        crm_records_apply(connection=hubspot, records=page(3, "Gold"))
    assert Event.objects.filter(type="segment_move").count() == 200
    # segments, load, upsert, placeholders, ids, referral links, known events, insert: each one statement
    # per batch (SQLite's 999-parameter limit makes its batches small), never one per row.
    assert len(first) <= 20 and len(second) <= 20
